global using Herald.Store;
