using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace HvIommu.Actors.Tests.Architecture;

/// <summary>
/// The namespace dependency graph of one compiled assembly, read from its metadata: namespace A depends on
/// namespace B when a type declared in A (or a compiler-generated type nested in it: lambdas, async state
/// machines) names a type declared in B of the same assembly, in a base type, interface, field, signature,
/// local, attribute (its constructor, and a <c>typeof</c> among its arguments, on types, members, parameters and
/// return values), generic constraint or any IL instruction operand (call, newobj, ldfld, castclass, ldtoken…).
/// References to other assemblies are not edges (they cannot close a cycle inside this one).
/// </summary>
/// <remarks>
/// Only namespaces under <c>rootNamespace</c> take part, so the compiler's global-namespace helpers
/// (anonymous types, <c>&lt;PrivateImplementationDetails&gt;</c>) and source-generated namespaces are ignored.
/// Each edge keeps one example (<c>FromType → ToType</c>) so a failure names the code that made it.
/// </remarks>
public sealed class NamespaceGraph
{
    private readonly SortedDictionary<string, SortedDictionary<string, string>> _edges = new(StringComparer.Ordinal);

    /// <summary>Namespace → namespace it depends on → one example "FromType → ToType".</summary>
    public IReadOnlyDictionary<string, SortedDictionary<string, string>> Edges => _edges;

    /// <summary>Adds an edge (used by tests of the cycle finder; the reader adds edges the same way).</summary>
    public void Add(string from, string to, string example)
    {
        if (from == to)
        {
            return;
        }
        if (!_edges.TryGetValue(from, out var targets))
        {
            _edges[from] = targets = new SortedDictionary<string, string>(StringComparer.Ordinal);
        }
        targets.TryAdd(to, example);
        if (!_edges.ContainsKey(to))
        {
            _edges[to] = new SortedDictionary<string, string>(StringComparer.Ordinal);
        }
    }

    /// <summary>True when <paramref name="from"/> depends directly on <paramref name="to"/>.</summary>
    public bool DependsOn(string from, string to) => _edges.TryGetValue(from, out var t) && t.ContainsKey(to);

    /// <summary>Reads the graph of the assembly at <paramref name="assemblyPath"/>, restricted to
    /// namespaces equal to or under <paramref name="rootNamespace"/>.</summary>
    public static NamespaceGraph Read(string assemblyPath, string rootNamespace)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var graph = new NamespaceGraph();
        var collector = new ReferenceCollector(reader);

        bool InScope(string ns) => ns == rootNamespace || ns.StartsWith(rootNamespace + ".", StringComparison.Ordinal);

        foreach (var handle in reader.TypeDefinitions)
        {
            var (ns, name) = Owner(reader, handle);
            if (!InScope(ns))
            {
                continue;
            }
            collector.Clear();
            collector.CollectType(handle, pe);
            foreach (var target in collector.Found)
            {
                var (targetNs, targetName) = Owner(reader, target);
                if (InScope(targetNs))
                {
                    graph.Add(ns, targetNs, $"{name} → {targetName}");
                }
            }
        }
        return graph;
    }

    /// <summary>The namespace and name of the outermost type declaring <paramref name="handle"/>.</summary>
    private static (string Namespace, string Name) Owner(MetadataReader reader, TypeDefinitionHandle handle)
    {
        var type = reader.GetTypeDefinition(handle);
        while (type.IsNested)
        {
            type = reader.GetTypeDefinition(type.GetDeclaringType());
        }
        return (reader.GetString(type.Namespace), reader.GetString(type.Name));
    }

    /// <summary>
    /// The cycles of the graph: one shortest cycle for every strongly connected component of more than one
    /// namespace (Tarjan), each as the namespaces in order with the example reference of every edge.
    /// Empty when the graph is acyclic.
    /// </summary>
    public IReadOnlyList<string> Cycles()
    {
        var cycles = new List<string>();
        foreach (var component in StronglyConnectedComponents().Where(c => c.Count > 1))
        {
            var members = component.ToHashSet(StringComparer.Ordinal);
            var start = component.Min(StringComparer.Ordinal)!;
            var path = ShortestCycle(start, members);
            var text = new System.Text.StringBuilder();
            text.Append($"{{{string.Join(", ", component.Order(StringComparer.Ordinal))}}}: ");
            for (var i = 0; i < path.Count - 1; i++)
            {
                text.Append($"{path[i]} → {path[i + 1]} ({_edges[path[i]][path[i + 1]]}); ");
            }
            cycles.Add(text.ToString().TrimEnd(' ', ';'));
        }
        return cycles;
    }

    private List<string> ShortestCycle(string start, HashSet<string> members)
    {
        var previous = new Dictionary<string, string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        queue.Enqueue(start);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var next in _edges[node].Keys.Where(members.Contains))
            {
                if (next == start)
                {
                    var path = new List<string> { start };
                    for (var at = node; at != start; at = previous[at])
                    {
                        path.Add(at);
                    }
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (previous.TryAdd(next, node))
                {
                    queue.Enqueue(next);
                }
            }
        }
        throw new InvalidOperationException($"{start} is in a component but on no cycle");
    }

    private List<List<string>> StronglyConnectedComponents()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var result = new List<List<string>>();
        var counter = 0;

        void Visit(string node)
        {
            index[node] = low[node] = counter++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var next in _edges[node].Keys)
            {
                if (!index.ContainsKey(next))
                {
                    Visit(next);
                    low[node] = Math.Min(low[node], low[next]);
                }
                else if (onStack.Contains(next))
                {
                    low[node] = Math.Min(low[node], index[next]);
                }
            }
            if (low[node] == index[node])
            {
                var component = new List<string>();
                string member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != node);
                result.Add(component);
            }
        }

        foreach (var node in _edges.Keys)
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }
        return result;
    }

    /// <summary>Collects the type definitions of this assembly that one type definition refers to.</summary>
    private sealed class ReferenceCollector(MetadataReader reader) : ISignatureTypeProvider<bool, object?>
    {
        private readonly AttributeArguments _arguments = new(reader);

        private static readonly Dictionary<short, OperandType> OperandTypes = typeof(OpCodes)
            .GetFields()
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(op => op.Value, op => op.OperandType);

        public HashSet<TypeDefinitionHandle> Found { get; } = [];

        public void Clear() => Found.Clear();

        public void CollectType(TypeDefinitionHandle handle, PEReader pe)
        {
            var type = reader.GetTypeDefinition(handle);
            Entity(type.BaseType);
            foreach (var i in type.GetInterfaceImplementations())
            {
                Entity(reader.GetInterfaceImplementation(i).Interface);
            }
            Attributes(type.GetCustomAttributes());
            GenericParameters(type.GetGenericParameters());
            foreach (var f in type.GetFields())
            {
                var field = reader.GetFieldDefinition(f);
                field.DecodeSignature(this, null);
                Attributes(field.GetCustomAttributes());
            }
            foreach (var p in type.GetProperties())
            {
                var property = reader.GetPropertyDefinition(p);
                property.DecodeSignature(this, null);
                Attributes(property.GetCustomAttributes());
            }
            foreach (var m in type.GetMethods())
            {
                var method = reader.GetMethodDefinition(m);
                method.DecodeSignature(this, null);
                Attributes(method.GetCustomAttributes());
                // Attributes of the parameters, and of the return value (the parameter numbered 0).
                foreach (var p in method.GetParameters())
                {
                    Attributes(reader.GetParameter(p).GetCustomAttributes());
                }
                GenericParameters(method.GetGenericParameters());
                if (method.RelativeVirtualAddress != 0)
                {
                    Body(pe.GetMethodBody(method.RelativeVirtualAddress));
                }
            }
        }

        private void GenericParameters(GenericParameterHandleCollection parameters)
        {
            foreach (var g in parameters)
            {
                foreach (var c in reader.GetGenericParameter(g).GetConstraints())
                {
                    Entity(reader.GetGenericParameterConstraint(c).Type);
                }
            }
        }

        private void Attributes(CustomAttributeHandleCollection attributes)
        {
            foreach (var a in attributes)
            {
                var attribute = reader.GetCustomAttribute(a);
                Entity(attribute.Constructor);
                // typeof(T) in an argument is stored as T's name, not as a handle: decode the value to find it.
                foreach (var name in _arguments.TypesNamedBy(attribute))
                {
                    if (_arguments.Definition(name) is { } named)
                    {
                        Found.Add(named);
                    }
                }
            }
        }

        private void Body(MethodBodyBlock body)
        {
            if (!body.LocalSignature.IsNil)
            {
                reader.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(this, null);
            }
            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                short code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = unchecked((short)(0xFE00 | il.ReadByte()));
                }
                switch (OperandTypes[code])
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget:
                    case OperandType.ShortInlineI:
                    case OperandType.ShortInlineVar:
                        il.ReadByte();
                        break;
                    case OperandType.InlineVar:
                        il.ReadInt16();
                        break;
                    case OperandType.InlineI8:
                    case OperandType.InlineR:
                        il.ReadInt64();
                        break;
                    case OperandType.InlineSwitch:
                        var count = il.ReadInt32();
                        for (var i = 0; i < count; i++)
                        {
                            il.ReadInt32();
                        }
                        break;
                    case OperandType.InlineField:
                    case OperandType.InlineMethod:
                    case OperandType.InlineTok:
                    case OperandType.InlineType:
                    case OperandType.InlineSig:
                        Entity(MetadataTokens.EntityHandle(il.ReadInt32()));
                        break;
                    default: // InlineBrTarget, InlineI, InlineString, ShortInlineR
                        il.ReadInt32();
                        break;
                }
            }
        }

        private void Entity(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return;
            }
            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    Found.Add((TypeDefinitionHandle)handle);
                    break;
                case HandleKind.TypeSpecification:
                    reader.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(this, null);
                    break;
                case HandleKind.MethodDefinition:
                    var method = reader.GetMethodDefinition((MethodDefinitionHandle)handle);
                    Found.Add(method.GetDeclaringType());
                    method.DecodeSignature(this, null);
                    break;
                case HandleKind.FieldDefinition:
                    var field = reader.GetFieldDefinition((FieldDefinitionHandle)handle);
                    Found.Add(field.GetDeclaringType());
                    field.DecodeSignature(this, null);
                    break;
                case HandleKind.MemberReference:
                    var member = reader.GetMemberReference((MemberReferenceHandle)handle);
                    Entity(member.Parent);
                    if (member.GetKind() == MemberReferenceKind.Method)
                    {
                        member.DecodeMethodSignature(this, null);
                    }
                    else
                    {
                        member.DecodeFieldSignature(this, null);
                    }
                    break;
                case HandleKind.MethodSpecification:
                    var spec = reader.GetMethodSpecification((MethodSpecificationHandle)handle);
                    Entity(spec.Method);
                    spec.DecodeSignature(this, null);
                    break;
                case HandleKind.StandaloneSignature:
                    var signature = reader.GetStandaloneSignature((StandaloneSignatureHandle)handle);
                    if (signature.GetKind() == StandaloneSignatureKind.Method)
                    {
                        signature.DecodeMethodSignature(this, null);
                    }
                    break;
            }
        }

        public bool GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind)
        {
            Found.Add(handle);
            return true;
        }

        public bool GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => true;
        public bool GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind)
        {
            Entity(handle);
            return true;
        }
        public bool GetArrayType(bool elementType, ArrayShape shape) => true;
        public bool GetByReferenceType(bool elementType) => true;
        public bool GetFunctionPointerType(MethodSignature<bool> signature) => true;
        public bool GetGenericInstantiation(bool genericType, ImmutableArray<bool> typeArguments) => true;
        public bool GetGenericMethodParameter(object? context, int index) => true;
        public bool GetGenericTypeParameter(object? context, int index) => true;
        public bool GetModifiedType(bool modifier, bool unmodifiedType, bool isRequired) => true;
        public bool GetPinnedType(bool elementType) => true;
        public bool GetPointerType(bool elementType) => true;
        public bool GetPrimitiveType(PrimitiveTypeCode typeCode) => true;
        public bool GetSZArrayType(bool elementType) => true;
    }

    /// <summary>
    /// Decodes custom attribute arguments (ECMA-335 §II.23.3) to find the types a <c>typeof</c> names: such an
    /// argument is serialized as the type's name ("Ns.Outer+Inner, Assembly, …"), which is mapped back to this
    /// assembly's definition. Types are carried as their names; an enum of another assembly is read as int, which
    /// every enum in an attribute of this code base is.
    /// </summary>
    private sealed class AttributeArguments(MetadataReader reader) : ICustomAttributeTypeProvider<string>
    {
        private Dictionary<string, TypeDefinitionHandle>? _byName;
        private readonly List<string> _named = [];

        /// <summary>The names of the types <paramref name="attribute"/>'s arguments name with <c>typeof</c>.</summary>
        public IReadOnlyList<string> TypesNamedBy(CustomAttribute attribute)
        {
            _named.Clear();
            try
            {
                // Decoding calls GetTypeFromSerializedName for every typeof, in arrays and named arguments too.
                attribute.DecodeValue(this);
            }
            catch (BadImageFormatException)
            {
                // An enum of another assembly whose underlying type is not int: its typeof arguments are not read.
            }
            return _named;
        }

        /// <summary>The definition in this assembly of a serialized type name, or null (another assembly's type).</summary>
        public TypeDefinitionHandle? Definition(string serializedName)
        {
            _byName ??= reader.TypeDefinitions.ToDictionary(FullName, h => h, StringComparer.Ordinal);
            var name = serializedName.Split(',')[0].Trim();
            return _byName.TryGetValue(name, out var handle) ? handle : null;
        }

        private string FullName(TypeDefinitionHandle handle)
        {
            var type = reader.GetTypeDefinition(handle);
            var name = reader.GetString(type.Name);
            return type.GetDeclaringType() is { IsNil: false } outer
                ? FullName(outer) + "+" + name
                : reader.GetString(type.Namespace) is { Length: > 0 } ns ? ns + "." + name : name;
        }

        public string GetTypeFromSerializedName(string name)
        {
            _named.Add(name);
            return name;
        }

        public PrimitiveTypeCode GetUnderlyingEnumType(string type)
        {
            if (Definition(type) is { } handle)
            {
                foreach (var f in reader.GetTypeDefinition(handle).GetFields())
                {
                    var field = reader.GetFieldDefinition(f);
                    if (reader.GetString(field.Name) == "value__")
                    {
                        return field.DecodeSignature(new EnumUnderlyingType(), null);
                    }
                }
            }
            return PrimitiveTypeCode.Int32;
        }

        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();
        public string GetSystemType() => "System.Type";
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public bool IsSystemType(string type) => type == "System.Type";
        public string GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => FullName(handle);
        public string GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind)
        {
            var type = r.GetTypeReference(handle);
            return r.GetString(type.Namespace) is { Length: > 0 } ns ? ns + "." + r.GetString(type.Name) : r.GetString(type.Name);
        }
    }

    /// <summary>The primitive type of an enum's value__ field.</summary>
    private sealed class EnumUnderlyingType : ISignatureTypeProvider<PrimitiveTypeCode, object?>
    {
        public PrimitiveTypeCode GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode;
        public PrimitiveTypeCode GetTypeFromDefinition(MetadataReader r, TypeDefinitionHandle handle, byte rawTypeKind) => PrimitiveTypeCode.Int32;
        public PrimitiveTypeCode GetTypeFromReference(MetadataReader r, TypeReferenceHandle handle, byte rawTypeKind) => PrimitiveTypeCode.Int32;
        public PrimitiveTypeCode GetTypeFromSpecification(MetadataReader r, object? context, TypeSpecificationHandle handle, byte rawTypeKind) => PrimitiveTypeCode.Int32;
        public PrimitiveTypeCode GetArrayType(PrimitiveTypeCode elementType, ArrayShape shape) => elementType;
        public PrimitiveTypeCode GetByReferenceType(PrimitiveTypeCode elementType) => elementType;
        public PrimitiveTypeCode GetFunctionPointerType(MethodSignature<PrimitiveTypeCode> signature) => PrimitiveTypeCode.IntPtr;
        public PrimitiveTypeCode GetGenericInstantiation(PrimitiveTypeCode genericType, ImmutableArray<PrimitiveTypeCode> typeArguments) => genericType;
        public PrimitiveTypeCode GetGenericMethodParameter(object? context, int index) => PrimitiveTypeCode.Int32;
        public PrimitiveTypeCode GetGenericTypeParameter(object? context, int index) => PrimitiveTypeCode.Int32;
        public PrimitiveTypeCode GetModifiedType(PrimitiveTypeCode modifier, PrimitiveTypeCode unmodifiedType, bool isRequired) => unmodifiedType;
        public PrimitiveTypeCode GetPinnedType(PrimitiveTypeCode elementType) => elementType;
        public PrimitiveTypeCode GetPointerType(PrimitiveTypeCode elementType) => elementType;
        public PrimitiveTypeCode GetSZArrayType(PrimitiveTypeCode elementType) => elementType;
    }
}
