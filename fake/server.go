package fake

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"

	"github.com/podsg/podsg/fake/internal/query"
)

// Error codes the server itself answers with, before an operation runs.
const (
	// CodeMissingAction: the request names no Action.
	CodeMissingAction = "MissingAction"
	// CodeInvalidAction: the Action is not an operation of the server's API.
	CodeInvalidAction = "InvalidAction"
	// CodeNoSuchVersion: the Version is not 2016-11-15.
	CodeNoSuchVersion = "NoSuchVersion"
	// CodeMissingAuthenticationToken: the request is not SigV4-signed.
	CodeMissingAuthenticationToken = "MissingAuthenticationToken"
	// CodeUnknownParameter: the request has a parameter the action does not take.
	CodeUnknownParameter = query.CodeUnknownParameter
)

// maxRequestBytes bounds a request body; EC2 query requests are small.
const maxRequestBytes = 1 << 20

// protocolParams are form keys that belong to the protocol (action, version,
// signatures in the query string), not to the operation.
var protocolParams = []string{
	"Action", "Version",
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
	"AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
	"Timestamp", "Expires", "SecurityToken",
}

// Server serves an EC2 API over HTTP in the EC2 query protocol, the way
// aws-sdk-go-v2, the AWS CLI and other SDKs talk to EC2: form-encoded POST (or
// GET) requests with Action and Version=2016-11-15, XML responses, and EC2's
// error envelope.
//
// The operations served are the methods of the API value given to NewServer
// that have the exact signature of the *ec2.Client method of the same name,
// so an *EC2 is served with all its operations and any other value with
// that shape (a wrapper recording calls, a subset for one test) works too.
// Requests are decoded into the SDK's own Input types and answers encoded
// from its Output types by package fake/internal/query; there is no
// per-operation code.
//
// Every request must be signed with AWS Signature Version 4, with any
// credentials: the signature is not checked. Answers:
//
//   - success: 200 and <ActionResponse>;
//   - errors of the API (smithy.APIError): their code and message, with the
//     status HTTPStatus gives (503 for RequestLimitExceeded, 400 for most);
//   - an error matching ErrLostResponse: no answer at all, the connection is
//     dropped after the change was applied, so an SDK client sees a transport
//     error (and, with its standard retryer, retries);
//   - any other error: 500 InternalError; the error is logged.
//
// A Server is safe for concurrent use; it serves requests concurrently and
// relies on the API value's own locking.
type Server struct {
	api      reflect.Value
	ops      map[string]operation
	names    []string
	logger   *slog.Logger
	region   string
	mu       sync.Mutex
	http     *http.Server
	listener net.Listener
	done     chan error
}

type operation struct {
	method reflect.Value
	in     reflect.Type // struct type of the Input
}

// ServerOptions configure a Server. The zero value of every field means its
// default, so ServerOptions{} is the default server. It is a plain value;
// NewServer copies it.
type ServerOptions struct {
	// Logger receives one debug record per request (action, status, error
	// code, duration) and an error record for every 500 answer. Nil
	// discards everything.
	Logger *slog.Logger
	// Region is the region Client signs for. Empty means the API value's
	// Region() when it has one (as *EC2 does), else DefaultRegion.
	Region string
}

var (
	ctxType    = reflect.TypeFor[context.Context]()
	optFnsType = reflect.TypeFor[[]func(*ec2.Options)]()
	errorType  = reflect.TypeFor[error]()
	ec2PkgPath = reflect.TypeFor[ec2.Client]().PkgPath()
)

// NewServer returns a Server for api, typically an *EC2. It does not listen:
// use Handler with any http.Server or httptest.Server, or Start. It takes at
// most one ServerOptions (NewServer(f) serves with every default) and panics
// when given more than one.
//
// NewServer fails when api has no method with an EC2 operation's signature,
// or when one of them cannot be encoded on the wire (its output is missing
// from package query's response table: add the operation to
// fake/internal/query/operations.txt and run go generate).
func NewServer(api any, opts ...ServerOptions) (*Server, error) {
	if len(opts) > 1 {
		panic(fmt.Sprintf("fake.NewServer: got %d ServerOptions values; pass at most one", len(opts)))
	}
	var o ServerOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	if api == nil {
		return nil, errors.New("fake: NewServer: api is nil; pass an *fake.EC2 or another value with ec2.Client-shaped methods")
	}
	s := &Server{
		api:    reflect.ValueOf(api),
		ops:    map[string]operation{},
		logger: o.Logger,
		region: o.Region,
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.region == "" {
		s.region = DefaultRegion
		if r, ok := api.(interface{ Region() string }); ok {
			s.region = r.Region()
		}
	}
	t := s.api.Type()
	var errs []error
	for i := range t.NumMethod() {
		m := t.Method(i)
		in, ok := operationShape(m.Name, s.api.Method(i).Type())
		if !ok {
			continue
		}
		if err := query.CheckInput(in); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		if err := query.CheckOutput(s.api.Method(i).Type().Out(0).Elem()); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, err))
			continue
		}
		s.ops[m.Name] = operation{method: s.api.Method(i), in: in}
		s.names = append(s.names, m.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("fake: NewServer(%T): %w", api, err)
	}
	if len(s.ops) == 0 {
		return nil, fmt.Errorf("fake: NewServer(%T): no method has an ec2.Client operation signature "+
			"(func(context.Context, *ec2.XxxInput, ...func(*ec2.Options)) (*ec2.XxxOutput, error))", api)
	}
	slices.Sort(s.names)
	return s, nil
}

// operationShape reports whether a method named name has the signature of
// the ec2.Client operation of that name, and returns its Input struct type.
func operationShape(name string, ft reflect.Type) (reflect.Type, bool) {
	if ft.NumIn() != 3 || !ft.IsVariadic() || ft.NumOut() != 2 {
		return nil, false
	}
	in, out := ft.In(1), ft.Out(0)
	ok := ft.In(0) == ctxType && ft.In(2) == optFnsType && ft.Out(1) == errorType &&
		in.Kind() == reflect.Pointer && in.Elem().PkgPath() == ec2PkgPath && in.Elem().Name() == name+"Input" &&
		out.Kind() == reflect.Pointer && out.Elem().PkgPath() == ec2PkgPath && out.Elem().Name() == name+"Output"
	if !ok {
		return nil, false
	}
	return in.Elem(), true
}

// Operations returns, sorted, the actions the server answers. The caller
// owns the slice.
func (s *Server) Operations() []string { return slices.Clone(s.names) }

// Region returns the region Client signs for.
func (s *Server) Region() string { return s.region }

// Handler returns the server's HTTP handler (the Server itself).
func (s *Server) Handler() http.Handler { return s }

// Start listens on addr ("127.0.0.1:0" picks a free port; empty means that)
// and serves in the background until Shutdown or Close. It fails if the
// server is already started or the address cannot be bound.
func (s *Server) Start(addr string) error {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		return errors.New("fake: Server.Start: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake: Server.Start: listen on %s: %w", addr, err)
	}
	s.listener = ln
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.http.Serve(ln) }()
	return nil
}

// URL returns the base URL of a started server ("http://127.0.0.1:PORT"),
// the value for ec2.Options.BaseEndpoint or aws --endpoint-url; "" before
// Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return "http://" + s.listener.Addr().String()
}

// Shutdown stops a started server gracefully: it stops accepting
// connections and waits, until ctx is done, for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.http, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("fake: Server.Shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("fake: Server: serve: %w", err)
	}
	return nil
}

// Close stops a started server at once, dropping requests in flight.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.http
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// ServeHTTP answers one EC2 query request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	action, status, code := s.serve(w, r, reqID)
	s.logger.LogAttrs(r.Context(), slog.LevelDebug, "fake: ec2 request",
		slog.String("action", action), slog.Int("status", status), slog.String("code", code),
		slog.String("requestId", reqID), slog.Duration("duration", time.Since(start)))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, reqID string) (action string, status int, code string) {
	fail := func(status int, code, msg string) (string, int, string) {
		writeError(w, status, code, msg, reqID)
		return action, status, code
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		return fail(http.StatusMethodNotAllowed, "InvalidHttpRequest", fmt.Sprintf("The HTTP method %s is not supported; use POST or GET.", r.Method))
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	if err := r.ParseForm(); err != nil {
		return fail(http.StatusBadRequest, "MalformedQueryString", "The request could not be parsed as a form: "+err.Error())
	}
	form := r.Form
	action = form.Get("Action")
	if !signed(r) {
		return fail(http.StatusUnauthorized, CodeMissingAuthenticationToken,
			"The request must be signed with AWS Signature Version 4 (any access key is accepted).")
	}
	if action == "" {
		return fail(http.StatusBadRequest, CodeMissingAction, "The request must contain the parameter Action")
	}
	op, ok := s.ops[action]
	if !ok {
		return fail(http.StatusBadRequest, CodeInvalidAction, fmt.Sprintf("The action %s is not valid for this web service.", action))
	}
	switch v := form.Get("Version"); v {
	case query.Version:
	case "":
		return fail(http.StatusBadRequest, CodeMissingParameter, "The request must contain the parameter Version")
	default:
		return fail(http.StatusBadRequest, CodeNoSuchVersion, fmt.Sprintf("The requested version (%s) of service AmazonEC2 does not exist", v))
	}
	params := make(url.Values, len(form))
	for k, v := range form {
		params[k] = v
	}
	for _, k := range protocolParams {
		delete(params, k)
	}
	in := reflect.New(op.in)
	if err := query.Decode(params, in.Interface()); err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return fail(http.StatusBadRequest, qe.Code, qe.Message)
		}
		s.logger.LogAttrs(r.Context(), slog.LevelError, "fake: decode request", slog.String("action", action), slog.Any("error", err))
		return fail(http.StatusInternalServerError, CodeInternalError, "An internal error has occurred")
	}
	res := op.method.Call([]reflect.Value{reflect.ValueOf(r.Context()), in})
	if err, _ := res[1].Interface().(error); err != nil {
		if errors.Is(err, ErrLostResponse) {
			dropConnection(w)
			return action, 0, "lost response"
		}
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return fail(HTTPStatus(err), ae.ErrorCode(), ae.ErrorMessage())
		}
		s.logger.LogAttrs(r.Context(), slog.LevelError, "fake: operation failed without an EC2 error", slog.String("action", action), slog.Any("error", err))
		return fail(http.StatusInternalServerError, CodeInternalError, "An internal error has occurred")
	}
	var body bytes.Buffer
	if err := query.EncodeOutput(&body, action, reqID, res[0].Interface()); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "fake: encode response", slog.String("action", action), slog.Any("error", err))
		return fail(http.StatusInternalServerError, CodeInternalError, "An internal error has occurred")
	}
	writeBody(w, http.StatusOK, body.Bytes())
	return action, http.StatusOK, ""
}

// signed reports whether r carries a SigV4 signature, in the Authorization
// header or (presigned) in the query string. The signature is not verified.
func signed(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") ||
		r.URL.Query().Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256"
}

// dropConnection closes the client's connection without an answer. On
// HTTP/1 the connection is hijacked and closed; otherwise the handler is
// aborted, which resets the stream.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

func writeError(w http.ResponseWriter, status int, code, msg, reqID string) {
	var body bytes.Buffer
	_ = query.EncodeError(&body, code, msg, reqID) // writes to a bytes.Buffer cannot fail
	writeBody(w, status, body.Bytes())
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/xml;charset=UTF-8")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newRequestID returns a random UUID, the form of EC2 request IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
