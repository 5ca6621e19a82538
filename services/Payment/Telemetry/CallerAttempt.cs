// Which attempt of its caller a request is (X-Attempt, stamped by Ordering once per attempt): 1 = first attempt,
// > 1 = a retry. Drives the first/retry counts (retry amplification) and retry-storm's "shed retries first".
using System.Globalization;

namespace ReliableShop.Payment.Telemetry;

public static class CallerAttempt
{
    public const string HeaderName = "X-Attempt";

    /// <summary>The caller's attempt number; 1 when the header is absent or not a positive integer.</summary>
    public static int Of(HttpRequest request) =>
        int.TryParse(request.Headers[HeaderName].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var attempt)
        && attempt >= 1 ? attempt : 1;
}
