using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Herald.Tracking;

/// <summary>Builds the <c>herald serve</c> web application: tracking endpoints, health, metrics and the dashboard.</summary>
public static class TrackingServer
{
    public static WebApplication Build(TrackingServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(TrackingServer).Assembly.GetName().Name });
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
            kestrel.Limits.MaxRequestLineSize = 8 * 1024;
            kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
        // Request logging would cost more than the redirect itself; only our own events and problems are logged.
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Herald", LogLevel.Information);
        // A start failure (port in use, ...) reaches the caller as an exception, which `serve` reports in one line; the
        // host would also log it with its stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        logging?.Invoke(builder.Logging);

        builder.Services.Configure<FormOptions>(form =>
        {
            form.ValueCountLimit = 16;
            form.KeyLengthLimit = 256;
            form.ValueLengthLimit = 4096;
            form.MultipartBodyLengthLimit = options.MaxRequestBodyBytes;
        });
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(options.Signer);
        builder.Services.AddSingleton<CampaignDirectory>();
        builder.Services.AddSingleton(sp => new TrackingMetrics(() =>
        {
            var events = sp.GetRequiredService<EventPipeline>();
            return new JournalGauges(events.Journaled, events.Pending, events.JournalBytes);
        }));
        builder.Services.AddSingleton(sp => new PrometheusExporter(sp.GetRequiredService<TrackingMetrics>().Meter));
        builder.Services.AddSingleton<EventPipeline>();
        builder.Services.AddSingleton<ReportCache>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ReportCache>());
        builder.Services.AddSingleton<SendProgress>();
        builder.Services.AddSingleton<LoginThrottle>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EventPipeline>());

        var app = builder.Build();
        app.UseStatusCodePages();
        // Create the exporter's listener before the meter so it sees the instruments being published.
        _ = app.Services.GetRequiredService<PrometheusExporter>();
        _ = app.Services.GetRequiredService<TrackingMetrics>();
        TrackingEndpoints.Map(app);
        DashboardEndpoints.Map(app);
        return app;
    }

    /// <summary>The addresses the started server listens on (with the real port when port 0 was asked for).</summary>
    public static IReadOnlyList<string> Addresses(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];
    }

    /// <summary>Moves every event journaled so far to the store (returns early when the store fails); for tests.</summary>
    public static Task FlushAsync(WebApplication app, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Services.GetRequiredService<EventPipeline>().FlushAsync(cancellationToken);
    }
}
