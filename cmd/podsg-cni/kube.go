//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The plugin reads one object from the API server: the pod it wires. A
// GET of /api/v1/namespaces/NS/pods/NAME with the kubeconfig's credentials
// is all it needs, so it speaks that request itself instead of linking
// client-go (which would more than double the binary for one call).

// kubeconfig is the part of a kubeconfig file the plugin uses.
type kubeconfig struct {
	CurrentContext string `json:"current-context"`
	Clusters       []struct {
		Name    string `json:"name"`
		Cluster struct {
			Server                   string          `json:"server"`
			CertificateAuthority     string          `json:"certificate-authority"`
			CertificateAuthorityData string          `json:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool            `json:"insecure-skip-tls-verify"`
			TLSServerName            string          `json:"tls-server-name"`
			ProxyURL                 string          `json:"proxy-url"`
			Extensions               json.RawMessage `json:"extensions"`
		} `json:"cluster"`
	} `json:"clusters"`
	Contexts []struct {
		Name    string `json:"name"`
		Context struct {
			Cluster string `json:"cluster"`
			User    string `json:"user"`
		} `json:"context"`
	} `json:"contexts"`
	Users []struct {
		Name string `json:"name"`
		User struct {
			Token                 string          `json:"token"`
			TokenFile             string          `json:"tokenFile"`
			ClientCertificate     string          `json:"client-certificate"`
			ClientCertificateData string          `json:"client-certificate-data"`
			ClientKey             string          `json:"client-key"`
			ClientKeyData         string          `json:"client-key-data"`
			Username              string          `json:"username"`
			Password              string          `json:"password"`
			Exec                  json.RawMessage `json:"exec"`
			AuthProvider          json.RawMessage `json:"auth-provider"`
		} `json:"user"`
	} `json:"users"`
}

// kubeClient gets pods from one API server.
type kubeClient struct {
	server *url.URL
	http   *http.Client
	token  string
	user   string // basic auth
	pass   string
}

// loadKubeconfig reads the kubeconfig at path and returns a client for its
// current context. It supports server certificates (a CA file or data, or
// insecure-skip-tls-verify), bearer tokens (inline or tokenFile), client
// certificates and basic auth; exec and auth-provider credentials are
// refused with a message, since a CNI plugin cannot run them reliably.
// Relative paths are relative to the kubeconfig's directory, as kubectl
// resolves them.
func loadKubeconfig(path string) (*kubeClient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w (set \"kubeconfig\" in the network configuration)", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	ctxName := kc.CurrentContext
	if ctxName == "" && len(kc.Contexts) == 1 {
		ctxName = kc.Contexts[0].Name
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == ctxName {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return nil, fmt.Errorf("kubeconfig %s: no context %q (set current-context)", path, ctxName)
	}
	k := &kubeClient{}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	found = false
	for _, c := range kc.Clusters {
		if c.Name != clusterName {
			continue
		}
		found = true
		cl := c.Cluster
		if k.server, err = url.Parse(cl.Server); err != nil || cl.Server == "" || k.server.Host == "" {
			return nil, fmt.Errorf("kubeconfig %s: cluster %q: server %q is not a URL like https://host:6443", path, c.Name, cl.Server)
		}
		if cl.ProxyURL != "" {
			return nil, fmt.Errorf("kubeconfig %s: cluster %q: proxy-url is not supported by podsg-cni; reach the API server directly", path, c.Name)
		}
		tlsConf.ServerName = cl.TLSServerName
		tlsConf.InsecureSkipVerify = cl.InsecureSkipTLSVerify
		var pem []byte
		switch {
		case cl.CertificateAuthorityData != "":
			if pem, err = base64.StdEncoding.DecodeString(cl.CertificateAuthorityData); err != nil {
				return nil, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority-data is not base64: %w", path, c.Name, err)
			}
		case cl.CertificateAuthority != "":
			if pem, err = os.ReadFile(abs(cl.CertificateAuthority)); err != nil {
				return nil, fmt.Errorf("kubeconfig %s: cluster %q: certificate-authority: %w", path, c.Name, err)
			}
		}
		if pem != nil {
			tlsConf.RootCAs = x509.NewCertPool()
			if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("kubeconfig %s: cluster %q: the certificate authority holds no PEM certificate", path, c.Name)
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("kubeconfig %s: context %q names cluster %q, which is not defined", path, ctxName, clusterName)
	}
	found = userName == ""
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		found = true
		us := u.User
		if len(us.Exec) > 0 && string(us.Exec) != "null" || len(us.AuthProvider) > 0 && string(us.AuthProvider) != "null" {
			return nil, fmt.Errorf("kubeconfig %s: user %q uses exec or auth-provider credentials, which podsg-cni does not run; give it a token, tokenFile or client certificate", path, u.Name)
		}
		k.token, k.user, k.pass = us.Token, us.Username, us.Password
		if us.TokenFile != "" {
			t, err := os.ReadFile(abs(us.TokenFile))
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: user %q: tokenFile: %w", path, u.Name, err)
			}
			k.token = strings.TrimSpace(string(t))
		}
		certPEM, keyPEM := []byte(nil), []byte(nil)
		if certPEM, err = pemOf(us.ClientCertificateData, abs(us.ClientCertificate)); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: user %q: client certificate: %w", path, u.Name, err)
		}
		if keyPEM, err = pemOf(us.ClientKeyData, abs(us.ClientKey)); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: user %q: client key: %w", path, u.Name, err)
		}
		if certPEM != nil || keyPEM != nil {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				return nil, fmt.Errorf("kubeconfig %s: user %q: client certificate and key: %w", path, u.Name, err)
			}
			tlsConf.Certificates = []tls.Certificate{cert}
		}
	}
	if !found {
		return nil, fmt.Errorf("kubeconfig %s: context %q names user %q, who is not defined", path, ctxName, userName)
	}
	k.http = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     tlsConf,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 1,
		ForceAttemptHTTP2:   true,
	}}
	return k, nil
}

func pemOf(data, file string) ([]byte, error) {
	switch {
	case data != "":
		return base64.StdEncoding.DecodeString(data)
	case file != "":
		return os.ReadFile(file)
	}
	return nil, nil
}

// podInfo is what the plugin needs of a pod.
type podInfo struct {
	UID string
	// Annotation is the value of the pod-eni annotation; HasAnnotation says
	// whether it is set at all.
	Annotation    string
	HasAnnotation bool
	// RequestsPodENI is true when a container requests or limits the
	// vpc.amazonaws.com/pod-eni resource: the controller will annotate it.
	RequestsPodENI bool
}

// podObject is the part of a v1 Pod that podInfo comes from.
type podObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		UID         string            `json:"uid"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Containers []struct {
			Resources struct {
				Requests map[string]json.RawMessage `json:"requests"`
				Limits   map[string]json.RawMessage `json:"limits"`
			} `json:"resources"`
		} `json:"containers"`
	} `json:"spec"`
}

// apiError is an answer of the API server other than 200.
type apiError struct {
	Code    int
	Reason  string
	Message string
}

func (e *apiError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("the API server answered %d %s: %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("the API server answered %d %s", e.Code, e.Reason)
}

// transient reports whether asking again may succeed: the API server is
// overloaded, restarting or briefly unreachable. A refusal (401, 403, 404),
// an answer that is not a pod and a server certificate the kubeconfig does
// not trust are not.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code == http.StatusTooManyRequests || ae.Code >= 500
	}
	var cve *tls.CertificateVerificationError
	return !errors.Is(err, errNotPod) && !errors.As(err, &cve)
}

var errNotPod = errors.New("the API server's answer is not a pod")

// getPod reads one pod.
func (k *kubeClient) getPod(ctx context.Context, namespace, name string, annotationKey, resourceName string) (podInfo, error) {
	u := *k.server
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods/" + url.PathEscape(name)
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return podInfo{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "podsg-cni")
	switch {
	case k.token != "":
		req.Header.Set("Authorization", "Bearer "+k.token)
	case k.user != "":
		req.SetBasicAuth(k.user, k.pass)
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return podInfo{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return podInfo{}, fmt.Errorf("read the API server's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		ae := &apiError{Code: resp.StatusCode, Reason: http.StatusText(resp.StatusCode)}
		var st struct {
			Message string `json:"message"`
			Reason  string `json:"reason"`
		}
		if json.Unmarshal(body, &st) == nil {
			ae.Message = st.Message
			if st.Reason != "" {
				ae.Reason = st.Reason
			}
		}
		return podInfo{}, ae
	}
	var p podObject
	if err := json.Unmarshal(body, &p); err != nil || p.Kind != "" && p.Kind != "Pod" {
		return podInfo{}, fmt.Errorf("%w (%s): %.200q", errNotPod, u.Redacted(), body)
	}
	info := podInfo{UID: p.Metadata.UID}
	info.Annotation, info.HasAnnotation = p.Metadata.Annotations[annotationKey]
	for _, c := range p.Spec.Containers {
		_, inReq := c.Resources.Requests[resourceName]
		_, inLim := c.Resources.Limits[resourceName]
		info.RequestsPodENI = info.RequestsPodENI || inReq || inLim
	}
	return info, nil
}
