// Seeds a store for the tracking load test and prints one valid click token (signed with HERALD_SECRET).
// Usage: HERALD_SECRET=... dotnet run bench/tracking-seed.cs -- path/to/herald.db
#:project ../src/Herald.Sqlite/Herald.Sqlite.csproj
#:property TreatWarningsAsErrors=false

using Herald.Sqlite;
using Herald.Store;
using Herald.Tracking;

var db = args.Length == 1 ? args[0] : throw new ArgumentException("usage: tracking-seed.cs DB");
await using (var ledger = await SqliteDeliveryStore.OpenAsync(db, CancellationToken.None))
{
    await using var writer = await ledger.BeginPlanAsync("bench", "bench", CancellationToken.None);
    await writer.AddAsync([new PlanEntry("r1", "r1@shop.example.com", "{}"u8.ToArray(), null, "<r1@bench>")], CancellationToken.None);
    await writer.CommitAsync(CancellationToken.None);
}

await using (var tracking = new SqliteTrackingStore(db))
{
    await tracking.MigrateAsync(CancellationToken.None);
}

Console.WriteLine(TokenSigner.FromEnvironment().Create(new TrackingToken(TokenKind.Click, "bench", "r1", 1, "https://shop.example.com/landing?utm_source=bench")));
