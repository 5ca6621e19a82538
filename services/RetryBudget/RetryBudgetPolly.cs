// The budget inside a Polly retry strategy: wraps ShouldHandle so that every first attempt deposits and every retry
// must withdraw. Polly asks ShouldHandle after the last attempt too, so no withdrawal is made for a retry that
// MaxRetryAttempts would not run anyway.
using Polly;
using Polly.Retry;

namespace ReliableShop.RetryBudget;

public static class RetryBudgetPolly
{
    /// <param name="onExhausted">Called when a retry was wanted but the budget refused it (the call fails fast).</param>
    public static RetryStrategyOptions<T> WithBudget<T>(this RetryStrategyOptions<T> retry, RetryBudget budget, Action? onExhausted = null)
    {
        var inner = retry.ShouldHandle;
        var maxRetries = retry.MaxRetryAttempts;
        retry.ShouldHandle = async args =>
        {
            if (args.AttemptNumber == 0) budget.RecordRequest();
            if (!await inner(args)) return false;
            if (args.AttemptNumber >= maxRetries) return false;
            if (budget.TryWithdrawRetry()) return true;
            onExhausted?.Invoke();
            return false; // fail fast with this outcome
        };
        return retry;
    }
}
