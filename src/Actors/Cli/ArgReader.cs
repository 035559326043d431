using System.Globalization;

namespace HvIommu.Actors.Cli;

/// <summary>
/// A small, strict reader of <c>--option value</c> arguments. Every option a command reads is
/// remembered, so <see cref="EnsureAllConsumed"/> can reject an unknown or misspelled one with a clear
/// message instead of ignoring it.
/// </summary>
public sealed class ArgReader
{
    private readonly List<(string Name, string? Value)> _options = new();
    private readonly List<string> _positionals = new();
    private readonly HashSet<int> _consumed = new();

    public ArgReader(IEnumerable<string> args)
    {
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var a = list[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var eq = a.IndexOf('=');
                if (eq > 0)
                    _options.Add((a[..eq], a[(eq + 1)..]));
                else if (i + 1 < list.Count && !IsOptionName(list[i + 1]))
                    _options.Add((a, list[++i]));
                else
                    _options.Add((a, null));
            }
            else
            {
                _positionals.Add(a);
            }
        }
    }

    public IReadOnlyList<string> Positionals => _positionals;

    /// <summary>True when the flag is present (it takes no value).</summary>
    public bool Flag(string name)
    {
        var found = false;
        for (var i = 0; i < _options.Count; i++)
        {
            if (_options[i].Name != name)
                continue;
            if (_options[i].Value is not null)
                throw new UsageException($"{name} takes no value (got '{_options[i].Value}')");
            _consumed.Add(i);
            found = true;
        }
        return found;
    }

    /// <summary>The value of an option given at most once, or null.</summary>
    public string? Option(string name)
    {
        var values = Options(name);
        if (values.Count > 1)
            throw new UsageException($"{name} was given {values.Count} times; give it once");
        return values.Count == 0 ? null : values[0];
    }

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> Options(string name)
    {
        var result = new List<string>();
        for (var i = 0; i < _options.Count; i++)
        {
            if (_options[i].Name != name)
                continue;
            _consumed.Add(i);
            result.Add(_options[i].Value ?? throw new UsageException($"{name} needs a value"));
        }
        return result;
    }

    /// <summary>Every value of any of <paramref name="names"/>, in command-line order (for options whose order matters).</summary>
    public IReadOnlyList<(string Name, string Value)> OptionsInOrder(params string[] names)
    {
        var result = new List<(string, string)>();
        for (var i = 0; i < _options.Count; i++)
        {
            if (!names.Contains(_options[i].Name))
                continue;
            _consumed.Add(i);
            result.Add((_options[i].Name, _options[i].Value ?? throw new UsageException($"{_options[i].Name} needs a value")));
        }
        return result;
    }

    public long? Int64(string name, long min = long.MinValue, long max = long.MaxValue)
    {
        var s = Option(name);
        if (s is null)
            return null;
        if (!long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            throw new UsageException($"{name} '{s}' is not a whole number in [{min}, {max}]");
        return v;
    }

    public ulong? UInt64(string name)
    {
        var s = Option(name);
        if (s is null)
            return null;
        return ParseUInt64(name, s);
    }

    /// <summary>A decimal or 0x-prefixed hexadecimal unsigned number.</summary>
    public static ulong ParseUInt64(string what, string s)
    {
        var ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v)
            : ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok)
            throw new UsageException($"{what} '{s}' is not a number (decimal, or hex with 0x)");
        return v;
    }

    public double? Double(string name, double min, double max)
    {
        var s = Option(name);
        if (s is null)
            return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || v < min || v > max || double.IsNaN(v))
            throw new UsageException($"{name} '{s}' is not a number in [{min}, {max}]");
        return v;
    }

    /// <summary>Rejects any option or positional argument the command did not read.</summary>
    public void EnsureAllConsumed(int allowedPositionals = 0)
    {
        for (var i = 0; i < _options.Count; i++)
            if (!_consumed.Contains(i))
                throw new UsageException($"unknown option {_options[i].Name}");
        if (_positionals.Count > allowedPositionals)
            throw new UsageException($"unexpected argument '{_positionals[allowedPositionals]}'");
    }

    private static bool IsOptionName(string s) => s.StartsWith("--", StringComparison.Ordinal) && s.Length > 2;
}
