using System.Text.RegularExpressions;
using Fluid;
using Fluid.Ast;

namespace Herald.Rendering;

/// <summary>Finds the root variables a Liquid template reads that it does not define itself (for, assign, capture, ...).</summary>
internal sealed class TemplateVariables : AstVisitor
{
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string> _defined = new(StringComparer.Ordinal) { "forloop", "tablerowloop", "empty", "blank", "nil", "null", "true", "false" };
    private readonly List<string> _order = [];

    /// <summary>Root names read but not defined by the template, in first-use order.</summary>
    public static IReadOnlyList<string> FreeVariables(IFluidTemplate template)
    {
        var visitor = new TemplateVariables();
        visitor.VisitTemplate(template);
        return visitor._order.Where(name => !visitor._defined.Contains(name)).ToList();
    }

    /// <summary>Line and column of the first use of <paramref name="name"/> inside a Liquid construct of <paramref name="source"/>.</summary>
    public static (int Line, int Column) Locate(string source, string name)
    {
        var pattern = new Regex($@"(?<![\w.\-""'\[])({Regex.Escape(name)})(?![\w\-])", RegexOptions.CultureInvariant);
        var i = 0;
        while (i < source.Length)
        {
            var open = source.IndexOf('{', i);
            if (open < 0 || open + 1 >= source.Length)
            {
                break;
            }

            if (source[open + 1] is not '{' and not '%')
            {
                i = open + 1;
                continue;
            }

            var end = TemplateSource.LiquidEnd(source, open);
            var match = pattern.Match(source, open, end - open);
            if (match.Success)
            {
                return TemplateSource.Position(source, match.Index);
            }

            i = end;
        }

        return (1, 1);
    }

    public override Expression VisitOtherExpression(Expression expression) => expression;

    protected override Expression VisitMemberExpression(MemberExpression memberExpression)
    {
        if (memberExpression.Segments.Count > 0 && memberExpression.Segments[0] is IdentifierSegment identifier && _used.Add(identifier.Identifier))
        {
            _order.Add(identifier.Identifier);
        }

        return base.VisitMemberExpression(memberExpression);
    }

    protected override Statement VisitForStatement(ForStatement forStatement)
    {
        _defined.Add(forStatement.Identifier);
        return base.VisitForStatement(forStatement);
    }

    protected override Statement VisitTableRowStatement(TableRowStatement tableRowStatement)
    {
        _defined.Add(tableRowStatement.Identifier);
        return base.VisitTableRowStatement(tableRowStatement);
    }

    protected override Statement VisitAssignStatement(AssignStatement assignStatement)
    {
        _defined.Add(assignStatement.Identifier);
        return base.VisitAssignStatement(assignStatement);
    }

    protected override Statement VisitCaptureStatement(CaptureStatement captureStatement)
    {
        _defined.Add(captureStatement.Identifier);
        return base.VisitCaptureStatement(captureStatement);
    }

    protected override Statement VisitIncrementStatement(IncrementStatement incrementStatement)
    {
        _defined.Add(incrementStatement.Identifier);
        return base.VisitIncrementStatement(incrementStatement);
    }

    protected override Statement VisitDecrementStatement(DecrementStatement decrementStatement)
    {
        _defined.Add(decrementStatement.Identifier);
        return base.VisitDecrementStatement(decrementStatement);
    }

    protected override Statement VisitMacroStatement(MacroStatement macroStatement)
    {
        _defined.Add(macroStatement.Identifier);
        foreach (var argument in macroStatement.Arguments)
        {
            _defined.Add(argument.Name);
        }

        return base.VisitMacroStatement(macroStatement);
    }
}
