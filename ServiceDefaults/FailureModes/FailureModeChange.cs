// Strict parsing of a PUT body against the catalogue: every problem is reported with the field it concerns
// ("state", "parameters.retries"), and nothing is applied unless the whole body is valid.
using System.Text.Json;

namespace ReliableShop.FailureModes;

internal sealed record FailureModeChange(FailureModeState State, Dictionary<string, double> Parameters, Dictionary<string, string[]> Errors)
{
    public static FailureModeChange Parse(FailureModeDefinition definition, JsonElement body)
    {
        var errors = new Dictionary<string, string[]>();
        var state = FailureModeState.Off;
        var parameters = new Dictionary<string, double>();
        if (body.ValueKind != JsonValueKind.Object)
        {
            errors["body"] = ["expected a JSON object: {\"state\": \"reproduce\", \"parameters\": {…}}"];
            return new(state, parameters, errors);
        }
        foreach (var property in body.EnumerateObject())
        {
            switch (property.Name)
            {
                case "state":
                    if (!TryParseState(property.Value, out state)) errors["state"] = ["must be one of off, reproduce, contain"];
                    break;
                case "parameters":
                    ParseParameters(definition, property.Value, parameters, errors);
                    break;
                default:
                    errors[property.Name] = ["unknown field; expected state and parameters"];
                    break;
            }
        }
        if (!body.TryGetProperty("state", out _)) errors["state"] = ["required: off, reproduce or contain"];
        return new(state, parameters, errors);
    }

    private static bool TryParseState(JsonElement value, out FailureModeState state)
    {
        state = FailureModeState.Off;
        return value.ValueKind == JsonValueKind.String
            && value.GetString() is "off" or "reproduce" or "contain"
            && Enum.TryParse(value.GetString(), ignoreCase: true, out state);
    }

    private static void ParseParameters(
        FailureModeDefinition definition, JsonElement value, Dictionary<string, double> parameters, Dictionary<string, string[]> errors)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors["parameters"] = ["expected an object of parameter values"];
            return;
        }
        foreach (var p in value.EnumerateObject())
        {
            var key = $"parameters.{p.Name}";
            if (definition.Parameter(p.Name) is not { } known)
                errors[key] = [$"unknown parameter of {definition.Id}; known: {string.Join(", ", definition.Parameters.Select(x => x.Name))}"];
            else if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out var number))
                errors[key] = ["must be a number"];
            else if (number < known.Min || number > known.Max)
                errors[key] = [$"{number} is out of range [{known.Min}, {known.Max}]"];
            else
                parameters[p.Name] = number;
        }
    }
}
