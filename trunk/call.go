package trunk

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/internal/ec2err"
)

// noSDKRetry turns the SDK client's own retries off for a call: trunk
// retries itself, so that every attempt passes the budget and is counted.
func noSDKRetry(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

func isThrottle(err error) bool { return throttles.IsErrorThrottle(err) == aws.TrueTernary }

// serverCodes are EC2 error codes of transient server-side failures.
var serverCodes = map[string]bool{
	"InternalError": true, "InternalFailure": true, "ServiceUnavailable": true, "Unavailable": true,
	"RequestTimeout": true, "RequestTimeoutException": true,
}

// retryable reports whether a failed call may succeed if repeated: throttles,
// server faults and failures in transport (lost responses), but not EC2
// refusing the request nor a cancelled context.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if isThrottle(err) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return serverCodes[ae.ErrorCode()] || ae.ErrorFault() == smithy.FaultServer
	}
	var ip smithy.InvalidParamsError
	if errors.As(err, &ip) {
		return false
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.FalseTernary
}

// ErrorCode returns the EC2 error code of the first smithy.APIError in err's
// chain ("InvalidNetworkInterfaceID.NotFound", "RequestLimitExceeded", ...),
// or "" when err carries none. It works on errors of *ec2.Client and of
// package fake alike.
func ErrorCode(err error) string { return ec2err.Code(err) }

// call makes one EC2 call through the budget, retrying retryable failures
// with the SDK's exponential jitter back-off (drawn from Options.Rand), up to
// the Manager's attempts.
// The last error is returned as the SDK gave it, so errors.As still finds
// its smithy.APIError.
func call[I, O any](ctx context.Context, m *Manager, action string, p Priority, in *I,
	fn func(context.Context, *I, ...func(*ec2.Options)) (*O, error)) (*O, error) {
	for attempt := 1; ; attempt++ {
		if err := m.budget.Wait(ctx, action, p); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in, noSDKRetry)
		if err == nil {
			m.metrics.call(action, OutcomeOK)
			return out, nil
		}
		if isThrottle(err) {
			m.metrics.call(action, OutcomeThrottled)
		} else {
			m.metrics.call(action, OutcomeError)
		}
		if ctx.Err() != nil || !retryable(err) || attempt >= m.opts.MaxAttempts {
			return nil, err
		}
		d, derr := m.rnd.backoff(attempt, m.opts.MaxBackoff)
		if derr != nil {
			return nil, err
		}
		m.metrics.retry()
		if serr := sleep(ctx, d); serr != nil {
			return nil, fmt.Errorf("%w (%s not retried: %w)", err, action, serr)
		}
	}
}
