using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace CremaD.Infrastructure.Tests;

/// <summary>
/// A value an ARM expression evaluates to only in Azure (a resource's properties, <c>uniqueString</c>, a secret):
/// kept as its text so tests can still see where it comes from, e.g. <c>⟦reference(...).clientId⟧</c>.
/// </summary>
/// <param name="Text">The expression (or composed text) standing for the value.</param>
/// <param name="ResourceType">For a resource id: the resource type, e.g. <c>Microsoft.Resources/deployments</c>.</param>
/// <param name="ResourceName">For a resource id: the resource name, as far as it is known.</param>
/// <param name="Composed">
/// A string built from known text and unresolved parts (format, concat), whose <paramref name="Text"/> already shows
/// the unresolved parts in ⟦ ⟧, e.g. <c>amqp://cremad:⟦listSecrets(...)⟧@rabbitmq:5672</c>.
/// </param>
public sealed record Unresolved(string Text, string? ResourceType = null, string? ResourceName = null, bool Composed = false)
{
    /// <summary>How the value shows inside composed strings.</summary>
    public override string ToString() => Composed ? Text : "⟦" + Text + "⟧";
}

/// <summary>
/// Evaluates the ARM template expression language (the <c>"[...]"</c> strings <c>bicep build</c> emits) for the
/// functions whose result does not depend on Azure; every other call becomes an <see cref="Unresolved"/> value.
/// Enough to read compiled templates under given parameters, not a general ARM engine.
/// </summary>
public static class ArmExpressions
{
    /// <summary>The environment an expression is evaluated in: its template's parameters, variables and resources.</summary>
    public interface IScope
    {
        /// <summary>The value of parameter <paramref name="name"/>.</summary>
        JsonNode? Parameter(string name);

        /// <summary>The value of variable <paramref name="name"/>.</summary>
        JsonNode? Variable(string name);

        /// <summary>The runtime state of a resource, when it is known offline (a module's outputs), else null.</summary>
        JsonNode? Reference(Unresolved resourceId);
    }

    /// <summary>Whether <paramref name="text"/> is an expression (<c>[...]</c>, not the <c>[[</c> escape).</summary>
    public static bool IsExpression(string text) =>
        text.Length >= 2 && text[0] == '[' && text[^1] == ']' && !text.StartsWith("[[", StringComparison.Ordinal);

    /// <summary>Evaluates a JSON string value: an expression, an escaped literal (<c>[[...</c>) or plain text.</summary>
    public static JsonNode? EvaluateString(string text, IScope scope)
    {
        if (text.StartsWith("[[", StringComparison.Ordinal)) return JsonValue.Create(text[1..]);
        if (!IsExpression(text)) return JsonValue.Create(text);
        var parser = new Parser(text[1..^1], scope);
        var value = parser.ParseExpression();
        parser.ExpectEnd();
        return value;
    }

    /// <summary>The value as an <see cref="Unresolved"/>, or null when it is a plain JSON value.</summary>
    public static Unresolved? AsUnresolved(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<Unresolved>(out var unresolved) ? unresolved : null;

    /// <summary>Text of a value for composing strings: strings as they are, unresolved values as <c>⟦...⟧</c>.</summary>
    public static string Render(JsonNode? node) => node switch
    {
        null => "null",
        JsonValue value when value.TryGetValue<Unresolved>(out var unresolved) => unresolved.ToString(),
        JsonValue value when value.TryGetValue<string>(out var s) => s,
        JsonValue value when value.TryGetValue<bool>(out var b) => b ? "True" : "False",
        _ => node.ToJsonString(),
    };

    private static JsonNode Wrap(Unresolved unresolved) => JsonValue.Create(unresolved)!;

    /// <summary>
    /// A copy of <paramref name="node"/> that can be put in another tree. Unlike <see cref="JsonNode.DeepClone"/> it
    /// keeps <see cref="Unresolved"/> values as they are instead of serializing them.
    /// </summary>
    public static JsonNode? Clone(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue<Unresolved>(out var unresolved) => Wrap(unresolved),
        JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, Clone(p.Value)))),
        JsonArray array => new JsonArray(array.Select(Clone).ToArray()),
        _ => node.DeepClone(),
    };

    private sealed class Parser(string source, IScope scope)
    {
        private int position;

        // Above zero while parsing a branch of if() that is not taken: ARM does not evaluate it, and neither do we
        // (it may index a map with a key only the other branch allows).
        private int quiet;

        public void ExpectEnd()
        {
            SkipSpace();
            if (position != source.Length) throw Error("unexpected text");
        }

        public JsonNode? ParseExpression()
        {
            var start = position;
            var value = ParsePrimary();
            while (true)
            {
                SkipSpace();
                if (Peek('.'))
                {
                    position++;
                    var member = ParseIdentifier();
                    value = Member(value, JsonValue.Create(member), start);
                }
                else if (Peek('['))
                {
                    position++;
                    var index = ParseExpression();
                    SkipSpace();
                    Expect(']');
                    value = Member(value, index, start);
                }
                else
                {
                    return value;
                }
            }
        }

        private JsonNode? Member(JsonNode? target, JsonNode? key, int start)
        {
            if (quiet > 0 || AsUnresolved(target) is not null || AsUnresolved(key) is not null)
                return Wrap(new Unresolved(source[start..position]));
            return (target, key) switch
            {
                (JsonObject obj, JsonValue name) when name.TryGetValue<string>(out var property) =>
                    obj.TryGetPropertyValue(property, out var found)
                        ? Clone(found)
                        : Clone(obj.FirstOrDefault(p => string.Equals(p.Key, property, StringComparison.OrdinalIgnoreCase)).Value)
                          ?? throw Error($"no property '{property}'"),
                (JsonArray array, JsonValue index) when index.TryGetValue<int>(out var i) => Clone(array[i]),
                _ => throw Error("cannot index this value"),
            };
        }

        private JsonNode? ParsePrimary()
        {
            SkipSpace();
            if (Peek('\'')) return JsonValue.Create(ParseString());
            if (position < source.Length && (char.IsDigit(source[position]) || source[position] == '-'))
                return JsonValue.Create(ParseInteger());
            var start = position;
            var name = ParseIdentifier();
            SkipSpace();
            if (!Peek('('))
            {
                return name switch
                {
                    "true" => JsonValue.Create(true),
                    "false" => JsonValue.Create(false),
                    "null" => null,
                    _ => throw Error($"unexpected identifier '{name}'"),
                };
            }
            position++;
            var arguments = new List<JsonNode?>();
            SkipSpace();
            if (!Peek(')'))
            {
                while (true)
                {
                    arguments.Add(ParseArgument(name, arguments));
                    SkipSpace();
                    if (Peek(',')) { position++; continue; }
                    break;
                }
            }
            SkipSpace();
            Expect(')');
            var text = source[start..position];
            return quiet > 0 ? Wrap(new Unresolved(text)) : Call(name, arguments, text);
        }

        // if(condition, whenTrue, whenFalse): only the branch the condition picks is evaluated.
        private JsonNode? ParseArgument(string function, List<JsonNode?> previous)
        {
            var skip = false;
            if (string.Equals(function, "if", StringComparison.OrdinalIgnoreCase) && previous.Count is 1 or 2)
            {
                var condition = previous[0] is JsonValue v && v.TryGetValue<bool>(out var b) ? b : (bool?)null;
                skip = condition is null || condition != (previous.Count == 1);
            }
            if (skip) quiet++;
            try
            {
                return ParseExpression();
            }
            finally
            {
                if (skip) quiet--;
            }
        }

        private JsonNode? Call(string name, List<JsonNode?> args, string text)
        {
            var unresolved = new Unresolved(text);
            bool AnyUnresolved() => args.Any(a => AsUnresolved(a) is not null);
            switch (name.ToLowerInvariant())
            {
                case "parameters": return scope.Parameter(StringArg(args, 0));
                case "variables": return scope.Variable(StringArg(args, 0));
                case "true": return JsonValue.Create(true);
                case "false": return JsonValue.Create(false);
                case "null": return null;
                case "createarray": return new JsonArray(args.Select(Clone).ToArray());
                case "createobject":
                {
                    var obj = new JsonObject();
                    for (var i = 0; i + 1 < args.Count; i += 2) obj[StringArg(args, i)] = Clone(args[i + 1]);
                    return obj;
                }
                case "json":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonNode.Parse(StringArg(args, 0));
                case "string":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(Render(args[0]));
                case "format":
                {
                    var pieces = args.Skip(1).Select(Render).ToArray();
                    var formatted = string.Format(CultureInfo.InvariantCulture, Render(args[0]), pieces);
                    return AnyUnresolved() ? Wrap(new Unresolved(formatted, Composed: true)) : JsonValue.Create(formatted);
                }
                case "concat":
                    if (args.All(a => a is JsonArray))
                        return new JsonArray(args.SelectMany(a => a!.AsArray()).Select(Clone).ToArray());
                    var joined = string.Concat(args.Select(Render));
                    return AnyUnresolved() ? Wrap(new Unresolved(joined, Composed: true)) : JsonValue.Create(joined);
                case "uricomponent":
                    return AnyUnresolved()
                        ? Wrap(new Unresolved(Render(args[0]), Composed: true))
                        : JsonValue.Create(Uri.EscapeDataString(StringArg(args, 0)));
                case "tolower":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(StringArg(args, 0).ToLowerInvariant());
                case "empty":
                    if (AnyUnresolved()) return Wrap(unresolved);
                    return JsonValue.Create(args[0] switch
                    {
                        null => true,
                        JsonArray array => array.Count == 0,
                        JsonObject obj => obj.Count == 0,
                        JsonValue value when value.TryGetValue<string>(out var s) => s.Length == 0,
                        _ => false,
                    });
                case "equals":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(JsonNode.DeepEquals(args[0], args[1]));
                case "not":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(!BoolArg(args, 0));
                case "and":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(args.Select((_, i) => BoolArg(args, i)).All(b => b));
                case "or":
                    return AnyUnresolved() ? Wrap(unresolved) : JsonValue.Create(args.Select((_, i) => BoolArg(args, i)).Any(b => b));
                case "if":
                    if (AsUnresolved(args[0]) is not null) return Wrap(unresolved);
                    return Clone(BoolArg(args, 0) ? args[1] : args[2]);
                case "resourceid":
                case "subscriptionresourceid":
                case "extensionresourceid":
                    return Wrap(ResourceId(name.ToLowerInvariant(), args, text));
                case "reference":
                    if (AsUnresolved(args[0]) is { ResourceType: not null } id && scope.Reference(id) is { } state)
                        return state;
                    return Wrap(unresolved);
                default:
                    // Anything that needs Azure (uniqueString, subscription(), listSecrets, guid, ...) stays symbolic.
                    return Wrap(unresolved);
            }
        }

        // Resource ids keep their type and name so reference() can find a module's outputs.
        private static Unresolved ResourceId(string function, List<JsonNode?> args, string text)
        {
            var strings = args.Select(Render).ToList();
            var typeIndex = strings.FindIndex(s => s.Contains('/', StringComparison.Ordinal) && !s.StartsWith('/') && !s.StartsWith('⟦'));
            if (function == "extensionresourceid") typeIndex = 1;
            if (typeIndex < 0 || typeIndex >= strings.Count) return new Unresolved(text);
            var type = strings[typeIndex];
            var name = string.Join('/', strings.Skip(typeIndex + 1));
            return new Unresolved($"{function}:{type}/{name}", type, name, Composed: true);
        }

        private string StringArg(List<JsonNode?> args, int index) =>
            args.ElementAtOrDefault(index) is JsonValue v && v.TryGetValue<string>(out var s)
                ? s
                : throw Error($"argument {index} is not a string");

        private bool BoolArg(List<JsonNode?> args, int index) =>
            args.ElementAtOrDefault(index) is JsonValue v && v.TryGetValue<bool>(out var b)
                ? b
                : throw Error($"argument {index} is not a boolean");

        private string ParseString()
        {
            Expect('\'');
            var text = new StringBuilder();
            while (true)
            {
                if (position >= source.Length) throw Error("unterminated string");
                var c = source[position++];
                if (c != '\'') { text.Append(c); continue; }
                if (Peek('\'')) { text.Append('\''); position++; continue; }
                return text.ToString();
            }
        }

        private int ParseInteger()
        {
            var start = position;
            if (Peek('-')) position++;
            while (position < source.Length && char.IsDigit(source[position])) position++;
            return int.Parse(source[start..position], CultureInfo.InvariantCulture);
        }

        private string ParseIdentifier()
        {
            SkipSpace();
            var start = position;
            while (position < source.Length && (char.IsLetterOrDigit(source[position]) || source[position] == '_')) position++;
            if (start == position) throw Error("expected a name");
            return source[start..position];
        }

        private void SkipSpace()
        {
            while (position < source.Length && char.IsWhiteSpace(source[position])) position++;
        }

        private bool Peek(char c) => position < source.Length && source[position] == c;

        private void Expect(char c)
        {
            if (!Peek(c)) throw Error($"expected '{c}'");
            position++;
        }

        private FormatException Error(string reason) =>
            new($"ARM expression [{source}]: {reason} at offset {position}");
    }
}
