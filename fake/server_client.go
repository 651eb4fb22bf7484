package fake

import (
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// Credentials the clients made by NewClient sign with. The server accepts
// any credentials; these only make the requests well-formed.
const (
	ClientAccessKeyID     = "AKIAFAKEEC2EXAMPLE"
	ClientSecretAccessKey = "fake-ec2-secret-access-key"
)

// NewClient returns a real aws-sdk-go-v2 EC2 client that talks to the server
// at endpoint (a Server's URL), signing for region (DefaultRegion when
// empty) with static credentials. optFns adjust the ec2.Options last.
//
// The retryer is the SDK's default, standard retryer (3 attempts,
// exponential back-off up to 20 s, client-side retry quota), exactly what
// production code gets from ec2.NewFromConfig: throttling (503
// RequestLimitExceeded) and dropped connections (lost responses) are retried
// as they would be against EC2, and a create call without ClientToken whose
// response was lost may therefore be applied twice, as on EC2. Tests that
// must see every error pass func(o *ec2.Options) { o.Retryer = aws.NopRetryer{} }
// or retry.AddWithMaxAttempts(o.Retryer, 1).
//
// The HTTP client is the SDK's default with one change: the request body no
// longer exposes io.WriterTo. The SDK closes the request body as soon as
// response headers arrive, after which its body answers WriteTo with io.EOF;
// net/http's final check for surplus body bytes then fails and closes the
// connection under a response still being read, which surfaces as "use of
// closed network connection" on large responses (tens of kilobytes) from a
// fast local server. Hiding WriteTo makes that check read io.EOF, which is
// not an error.
//
// The client is safe for concurrent use.
func NewClient(endpoint, region string, optFns ...func(*ec2.Options)) *ec2.Client {
	if region == "" {
		region = DefaultRegion
	}
	return ec2.New(ec2.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(ClientAccessKeyID, ClientSecretAccessKey, ""),
		HTTPClient:   readOnlyBodyClient{awshttp.NewBuildableClient()},
	}, optFns...)
}

// Client returns NewClient(s.URL(), s.Region(), optFns...). The server must
// have been started.
func (s *Server) Client(optFns ...func(*ec2.Options)) *ec2.Client {
	return NewClient(s.URL(), s.Region(), optFns...)
}

type readOnlyBodyClient struct {
	next interface {
		Do(*http.Request) (*http.Response, error)
	}
}

// readOnlyBody is a request body with only Read and Close.
type readOnlyBody struct{ io.ReadCloser }

func (c readOnlyBodyClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readOnlyBody{r.Body}
	}
	return c.next.Do(r)
}
