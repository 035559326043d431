using System.Text.Json.Serialization;

namespace HvIommu.Actors.Reporting;

/// <summary>
/// Source-generated JSON metadata for the report: camelCase names as docs/design.md §3 spells them,
/// indented, and strict on reading (a missing required field or a null where none is allowed is an error).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(RunReport))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
