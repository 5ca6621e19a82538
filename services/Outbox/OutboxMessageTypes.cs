// The message types the relay may publish, registered by name in AddOutbox (no assembly scanning): a row is
// deserialized into exactly the registered type. A row whose type is not registered fails and ends dead (replayable).
// Doc: docs/failure-modes/outbox.md
namespace ReliableShop.Outbox;

public sealed class OutboxMessageTypes
{
    private readonly Dictionary<string, Type> _byName = new(StringComparer.Ordinal);

    public OutboxMessageTypes Add<T>() where T : class
    {
        _byName[NameOf(typeof(T))] = typeof(T);
        return this;
    }

    public IReadOnlyCollection<Type> Types => _byName.Values;

    internal bool TryResolve(string name, out Type type) => _byName.TryGetValue(name, out type!);

    // The full CLR name is stored in each row: renaming or moving a contract needs rows drained first (or an alias).
    internal static string NameOf(Type type) => type.FullName ?? type.Name;
}
