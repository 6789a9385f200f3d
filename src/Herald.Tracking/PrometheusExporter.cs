using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Herald.Tracking;

/// <summary>
/// Renders the instruments of one meter in the Prometheus text exposition format (0.0.4). Collects on demand:
/// the instruments are observable, so a scrape reads the current values. Names ending in <c>_bucket</c>,
/// <c>_sum</c> and <c>_count</c> form one histogram family.
/// </summary>
internal sealed class PrometheusExporter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly List<(Instrument Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _scratch = [];

    public PrometheusExporter(Meter meter)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // This server's meter only, by reference: another server in the same process (tests, or a host running
            // two) has a meter of the same name whose callbacks belong to its own, possibly disposed, services.
            if (ReferenceEquals(instrument.Meter, meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _scratch.Add((instrument, value, tags.ToArray())));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _scratch.Add((instrument, value, tags.ToArray())));
        _listener.Start();
    }

    public string Render()
    {
        lock (_gate)
        {
            _scratch.Clear();
            _listener.RecordObservableInstruments();
            var text = new StringBuilder();
            var declared = new HashSet<string>(StringComparer.Ordinal);
            foreach (var group in _scratch.GroupBy(m => m.Instrument))
            {
                var name = group.Key.Name;
                var family = HistogramFamily(name);
                if (declared.Add(family ?? name))
                {
                    if (!string.IsNullOrEmpty(group.Key.Description))
                    {
                        text.Append("# HELP ").Append(family ?? name).Append(' ').Append(group.Key.Description).Append('\n');
                    }

                    var type = family is not null ? "histogram" : group.Key.GetType().Name.StartsWith("ObservableGauge", StringComparison.Ordinal) ? "gauge" : "counter";
                    text.Append("# TYPE ").Append(family ?? name).Append(' ').Append(type).Append('\n');
                }

                foreach (var (_, value, tags) in group)
                {
                    text.Append(name);
                    if (tags.Length > 0)
                    {
                        text.Append('{').AppendJoin(',', tags.Select(t => $"{t.Key}=\"{Escape(Convert.ToString(t.Value, CultureInfo.InvariantCulture))}\"")).Append('}');
                    }

                    text.Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
                }
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private static string? HistogramFamily(string name)
    {
        foreach (var suffix in (ReadOnlySpan<string>)["_bucket", "_sum", "_count"])
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Contains("_duration_", StringComparison.Ordinal))
            {
                return name[..^suffix.Length];
            }
        }

        return null;
    }

    private static string Escape(string? value) =>
        (value ?? string.Empty).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
