// Generates the inputs of the prepare benchmark: N recipients and N × K recommendation rows, each in CSV, JSONL
// and Parquet, plus one campaign file per format. Deterministic (fixed seed), so runs compare.
// Usage: dotnet run -c Release --project bench/Herald.PrepareData -- OUT_DIR [--recipients 1000000] [--per 8] [--formats csv,jsonl,parquet]
//        dotnet run -c Release --project bench/Herald.PrepareData -- measure CAMPAIGN.yml [file|null]
using System.Diagnostics;
using System.Globalization;
using Herald.Campaigns;
using Herald.Prepare;
using Herald.PrepareData;
using System.Text;
using Parquet;
using Parquet.Schema;

if (args.Length > 0 && args[0] == "measure")
{
    // measure CAMPAIGN.yml [file|null]: prepare into a plan file (or nowhere) instead of the SQLite store, to tell
    // the prepare pipeline's own cost from the store's.
    var campaign = CampaignLoader.Load(args[1]);
    var target = args.Length > 2 ? args[2] : "file";
    var store = new FilePlanStore(target == "null" ? null : Path.ChangeExtension(args[1], ".plan"));
    var clock = Stopwatch.StartNew();
    var manifest = await Preparer.PrepareAsync(campaign, store, null, new PrepareOptions(), CancellationToken.None);
    Console.WriteLine(manifest.ToJson());
    Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s, plan {store.Bytes / (1 << 20)} MB");
    return 0;
}

var outDir = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "prepare-data";
var recipients = Option("--recipients", 1_000_000);
var per = Option("--per", 8);
var formatsAt = Array.IndexOf(args, "--formats");
var formats = formatsAt >= 0 && formatsAt + 1 < args.Length ? args[formatsAt + 1].Split(',') : ["csv", "jsonl", "parquet"];
Directory.CreateDirectory(outDir);
var c = CultureInfo.InvariantCulture;
string[] firstNames = ["Ann", "Bob", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hiro", "Inès", "Jon"];
string[] cities = ["Springfield", "Oslo", "Lyon", "Kyoto", "Austin", "Porto"];

var started = DateTime.UtcNow;
WriteRecipients();
WriteRecommendations();
WriteCampaigns();
Console.WriteLine($"{recipients:N0} recipients, {(long)recipients * per:N0} recommendation rows in {outDir} ({(DateTime.UtcNow - started).TotalSeconds:F1} s)");
return 0;

int Option(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

TextWriter Writer(string name, string ext) =>
    formats.Contains(ext) ? new StreamWriter(Path.Combine(outDir, $"{name}.{ext}"), false, new UTF8Encoding(false), 1 << 20) : TextWriter.Null;

string Email(int i) => $"customer{i}@shop{i % 97}.example.com";

void WriteRecipients()
{
    using (var csv = Writer("recipients", "csv"))
    using (var jsonl = Writer("recipients", "jsonl"))
    {
        csv.Write("id,email,first_name,city\n");
        for (var i = 0; i < recipients; i++)
        {
            var first = firstNames[i % firstNames.Length];
            var city = cities[i % cities.Length];
            csv.Write(string.Create(c, $"{i},{Email(i)},{first},{city}\n"));
            jsonl.Write(string.Create(c, $"{{\"id\":{i},\"email\":\"{Email(i)}\",\"first_name\":\"{first}\",\"city\":\"{city}\"}}\n"));
        }
    }

    if (!formats.Contains("parquet"))
    {
        return;
    }

    var schema = new ParquetSchema(new DataField<long>("id"), new DataField<string>("email"), new DataField<string>("first_name"), new DataField<string>("city"));
    WriteParquet(Path.Combine(outDir, "recipients.parquet"), schema, recipients, 250_000, async (group, first, count) =>
    {
        var start = (int)first;
        await group.WriteAsync<long>((DataField)schema[0], Enumerable.Range(start, count).Select(i => (long)i).ToArray().AsMemory(), null, null, default);
        await group.WriteAsync((DataField)schema[1], Enumerable.Range(start, count).Select(Email).ToArray(), null);
        await group.WriteAsync((DataField)schema[2], Enumerable.Range(start, count).Select(i => firstNames[i % firstNames.Length]).ToArray(), null);
        await group.WriteAsync((DataField)schema[3], Enumerable.Range(start, count).Select(i => cities[i % cities.Length]).ToArray(), null);
    });
}

// Rows are written customer by customer in a shuffled customer order, as an upstream job might emit them; ranks go
// 1..per within each customer.
void WriteRecommendations()
{
    long rows = (long)recipients * per;
    var customerAt = ShuffledCustomers();
    int Customer(long r) => customerAt[(int)(r / per)];
    int Rank(long r) => (int)(r % per) + 1;
    int Product(long r) => (int)((r * 7919) % 50_000);
    string Name(long r) => $"Product {Product(r)}";
    double Price(long r) => Math.Round(5 + (Product(r) % 2000) / 10.0, 2);
    string Url(long r) => $"https://shop.example.com/p/{Product(r)}";

    using (var csv = Writer("recs", "csv"))
    using (var jsonl = Writer("recs", "jsonl"))
    {
        csv.Write("customer_id,rank,sku,name,price,url\n");
        for (long r = 0; r < rows; r++)
        {
            csv.Write(string.Create(c, $"{Customer(r)},{Rank(r)},P{Product(r)},{Name(r)},{Price(r)},{Url(r)}\n"));
            jsonl.Write(string.Create(c, $"{{\"customer_id\":{Customer(r)},\"rank\":{Rank(r)},\"sku\":\"P{Product(r)}\",\"name\":\"{Name(r)}\",\"price\":{Price(r)},\"url\":\"{Url(r)}\"}}\n"));
        }
    }

    if (!formats.Contains("parquet"))
    {
        return;
    }

    var schema = new ParquetSchema(
        new DataField<long>("customer_id"), new DataField<int>("rank"), new DataField<string>("sku"),
        new DataField<string>("name"), new DataField<double>("price"), new DataField<string>("url"));
    WriteParquet(Path.Combine(outDir, "recs.parquet"), schema, rows, 500_000, async (group, start, count) =>
    {
        var range = Enumerable.Range(0, count).Select(i => start + (long)i).ToArray();
        await group.WriteAsync<long>((DataField)schema[0], range.Select(r => (long)Customer(r)).ToArray().AsMemory(), null, null, default);
        await group.WriteAsync<int>((DataField)schema[1], range.Select(Rank).ToArray().AsMemory(), null, null, default);
        await group.WriteAsync((DataField)schema[2], range.Select(r => $"P{Product(r)}").ToArray(), null);
        await group.WriteAsync((DataField)schema[3], range.Select(Name).ToArray(), null);
        await group.WriteAsync<double>((DataField)schema[4], range.Select(Price).ToArray().AsMemory(), null, null, default);
        await group.WriteAsync((DataField)schema[5], range.Select(Url).ToArray(), null);
    });
}

int[] ShuffledCustomers()
{
    var order = Enumerable.Range(0, recipients).ToArray();
    new Random(42).Shuffle(order);
    return order;
}

static void WriteParquet(string path, ParquetSchema schema, long rows, int groupSize, Func<ParquetRowGroupWriter, long, int, Task> writeGroup) =>
    WriteParquetAsync(path, schema, rows, groupSize, writeGroup).GetAwaiter().GetResult();

static async Task WriteParquetAsync(string path, ParquetSchema schema, long rows, int groupSize, Func<ParquetRowGroupWriter, long, int, Task> writeGroup)
{
    await using var stream = File.Create(path);
    await using var writer = await ParquetWriter.CreateAsync(schema, stream);
    for (long start = 0; start < rows; start += groupSize)
    {
        var count = (int)Math.Min(groupSize, rows - start);
        using var group = writer.CreateRowGroup();
        await writeGroup(group, start, count);
    }
}

void WriteCampaigns()
{
    File.WriteAllText(Path.Combine(outDir, "body.html"),
        "<p>Hi {{ first_name }} from {{ city }}</p>{% for p in products %}<a href=\"{{ p.url }}\">{{ p.name }} {{ p.price }}</a>{% endfor %}\n");
    foreach (var ext in formats)
    {
        File.WriteAllText(Path.Combine(outDir, $"campaign-{ext}.yml"), """
            id: bench-EXT
            from: "Example Shop <news@shop.example.com>"
            subject: "{{ first_name }}, your picks"
            html: body.html
            recipients: recipients.EXT
            tracking: { base_url: "https://t.shop.example.com" }
            postal_address: "Example Shop Inc., 1 Market St, Springfield"
            relays:
              - url: smtp://127.0.0.1:2525
            data:
              products:
                file: recs.EXT
                key: customer_id
                recipient_key: id
                many: true
                order_by: rank
                limit: 8
                required: true

            """.Replace("EXT", ext, StringComparison.Ordinal));
    }
}
