using Fluid;
using Fluid.Ast;
using Fluid.Values;

namespace Herald.Rendering;

/// <summary>Display names of a campaign's templates, for limit errors.</summary>
internal sealed record TemplateNames(string Subject, string Html, string Text, string[] Headers);

/// <summary>A render limit was passed; the renderer turns it into a rejection naming the template and the recipient.</summary>
internal sealed class RenderLimitException(string message) : Exception(message);

/// <summary>
/// The render-time bounds Fluid does not have: a cap on the output written and on any string a filter makes (doubling
/// a string with <c>append</c> 30 times needs only 30 steps but 10 GB), so no template grows the process without end.
/// </summary>
internal static class RenderBounds
{
    /// <summary>Wraps every registered filter so a string result longer than <paramref name="maxChars"/> stops the render.</summary>
    public static void BoundFilters(TemplateOptions options, long maxChars)
    {
        foreach (var (name, filter) in options.Filters.ToList())
        {
            options.Filters.AddFilter(name, (input, arguments, context) =>
            {
                var result = filter(input, arguments, context);
                return result.IsCompletedSuccessfully ? new ValueTask<FluidValue>(Check(result.Result, maxChars)) : Await(result, maxChars);
            });
        }
    }

    private static async ValueTask<FluidValue> Await(ValueTask<FluidValue> pending, long maxChars) => Check(await pending.ConfigureAwait(false), maxChars);

    private static FluidValue Check(FluidValue value, long maxChars)
    {
        if (value is StringValue s && s.ToStringValue().Length > maxChars)
        {
            throw new RenderLimitException($"a filter made a string longer than the message size limit ({Size(maxChars)})");
        }

        return value;
    }

    public static string Size(long chars) => chars >= 1 << 20 && chars % (1 << 20) == 0
        ? $"{chars >> 20} MB"
        : chars >= 1024 ? $"{chars / 1024} KB" : $"{chars} characters";
}

/// <summary>A <see cref="StringWriter"/> that stops the render once its builder holds more than a given number of characters.</summary>
internal sealed class BoundedStringWriter(System.Text.StringBuilder builder, long maxChars)
    : StringWriter(builder, System.Globalization.CultureInfo.InvariantCulture)
{
    public override void Write(char value)
    {
        base.Write(value);
        Check();
    }

    public override void Write(string? value)
    {
        base.Write(value);
        Check();
    }

    public override void Write(char[] buffer, int index, int count)
    {
        base.Write(buffer, index, count);
        Check();
    }

    public override void Write(ReadOnlySpan<char> buffer)
    {
        base.Write(buffer);
        Check();
    }

    private void Check()
    {
        if (GetStringBuilder().Length > maxChars)
        {
            throw new RenderLimitException($"the message is larger than the message size limit ({RenderBounds.Size(maxChars)}; limits.message_size)");
        }
    }
}

/// <summary>
/// Bounds Liquid ranges: Fluid builds the whole list of a range before a loop runs, so
/// <c>{% for i in (1..100000000) %}</c> took 5 GB before the first step was counted. A range longer than the step
/// limit could never finish anyway: it stops the render before the list is built.
/// </summary>
internal sealed class RangeBounds(long maxLength) : AstRewriter
{
    public static IFluidTemplate Apply(IFluidTemplate template, long maxLength) => new RangeBounds(maxLength).VisitTemplate(template);

    protected override Expression VisitRangeExpression(RangeExpression rangeExpression) =>
        new RangeExpression(rangeExpression.From, new BoundedRangeEnd(rangeExpression.From, rangeExpression.To, maxLength));

    /// <summary>The end of a range, checked against its start before the range is built.</summary>
    private sealed class BoundedRangeEnd(Expression from, Expression to, long maxLength) : Expression
    {
        public override async ValueTask<FluidValue> EvaluateAsync(TemplateContext context)
        {
            var start = (await from.EvaluateAsync(context).ConfigureAwait(false)).ToNumberValue();
            var end = await to.EvaluateAsync(context).ConfigureAwait(false);
            if (Math.Abs(end.ToNumberValue() - start) >= maxLength)
            {
                throw new RenderLimitException($"a range of more than {maxLength:N0} numbers (limits.render_steps)");
            }

            return end;
        }
    }
}
