package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/podsg/podsg/api/v1beta1"
)

// manifests is what podsg reads from -f: the SecurityGroupPolicies, the pods
// (bare Pods and the pod templates of workloads), the ServiceAccounts whose
// labels serviceAccountSelector tests, and the Services in front of pods.
type manifests struct {
	policies        []*v1beta1.SecurityGroupPolicy
	workloads       []workload
	serviceAccounts map[string]map[string]string // "namespace/name" → labels
	services        []corev1.Service
	// skipped counts documents of kinds podsg does not use.
	skipped int
}

// workload is a bare Pod or the pod template of a controller.
type workload struct {
	// Kind is "Pod", "Deployment", "StatefulSet", ...
	Kind      string
	Namespace string
	Name      string
	// Replicas is 1 for a Pod; the replica count (1 when unset) otherwise.
	Replicas int
	// Pod is the Pod, or a Pod built from the template.
	Pod *corev1.Pod
}

// describe names the workload for people: "pod ns/name",
// "deployment ns/name (pod template)".
func (w workload) describe() string {
	if w.Kind == "Pod" {
		return "pod " + w.Namespace + "/" + w.Name
	}
	return strings.ToLower(w.Kind) + " " + w.Namespace + "/" + w.Name + " (pod template)"
}

// readManifests reads every -f source. path "-" is standard input; a
// directory is read file by file (.yaml, .yml, .json), in name order.
// Objects without a namespace get defaultNamespace, as kubectl does.
func readManifests(paths []string, stdin io.Reader, defaultNamespace string) (*manifests, error) {
	m := &manifests{serviceAccounts: map[string]map[string]string{}}
	for _, p := range paths {
		if p == "-" {
			if err := m.read("<stdin>", stdin, defaultNamespace); err != nil {
				return nil, err
			}
			continue
		}
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading manifests: %w", err)
			}
			if err := m.read(f, bytes.NewReader(data), defaultNamespace); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w (give -f a file, a directory or - for standard input)", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("reading manifests: %w", err)
	}
	var files []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

func (m *manifests) read(name string, r io.Reader, ns string) error {
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for doc := 1; ; doc++ {
		raw, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return fmt.Errorf("%s: document %d: not YAML or JSON: %w", name, doc, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue
		}
		if err := m.add(js, ns); err != nil {
			return fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
	}
}

func (m *manifests) add(js []byte, ns string) error {
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return fmt.Errorf("not a Kubernetes object: %w", err)
	}
	if tm.Kind == "" {
		return errors.New("no kind: every object needs apiVersion and kind")
	}
	defaultNS := func(meta *metav1.ObjectMeta) {
		if meta.Namespace == "" {
			meta.Namespace = ns
		}
	}
	switch tm.Kind {
	case "List", v1beta1.ListKind:
		var l struct {
			Items []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(js, &l); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		for i, it := range l.Items {
			item := it
			if tm.Kind == v1beta1.ListKind {
				// Items of a typed list may omit apiVersion and kind.
				item = withTypeMeta(it, v1beta1.GroupVersion.String(), v1beta1.Kind)
			}
			if err := m.add(item, ns); err != nil {
				return fmt.Errorf("items[%d]: %w", i, err)
			}
		}
		return nil
	case v1beta1.Kind:
		p, err := v1beta1.Decode(js)
		if err != nil {
			return err
		}
		defaultNS(&p.ObjectMeta)
		m.policies = append(m.policies, p)
		return nil
	case "ServiceAccount":
		var sa corev1.ServiceAccount
		if err := json.Unmarshal(js, &sa); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		defaultNS(&sa.ObjectMeta)
		m.serviceAccounts[sa.Namespace+"/"+sa.Name] = sa.Labels
		return nil
	case "Service":
		var svc corev1.Service
		if err := json.Unmarshal(js, &svc); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		defaultNS(&svc.ObjectMeta)
		m.services = append(m.services, svc)
		return nil
	case "Pod":
		pod := new(corev1.Pod)
		if err := json.Unmarshal(js, pod); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		defaultNS(&pod.ObjectMeta)
		m.workloads = append(m.workloads, workload{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, Replicas: 1, Pod: pod})
		return nil
	}
	var (
		meta     metav1.ObjectMeta
		template corev1.PodTemplateSpec
		replicas *int32
	)
	switch tm.Kind {
	case "Deployment":
		var o appsv1.Deployment
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template, replicas = o.ObjectMeta, o.Spec.Template, o.Spec.Replicas
	case "StatefulSet":
		var o appsv1.StatefulSet
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template, replicas = o.ObjectMeta, o.Spec.Template, o.Spec.Replicas
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template, replicas = o.ObjectMeta, o.Spec.Template, o.Spec.Replicas
	case "DaemonSet":
		var o appsv1.DaemonSet
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template = o.ObjectMeta, o.Spec.Template
	case "Job":
		var o batchv1.Job
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template, replicas = o.ObjectMeta, o.Spec.Template, o.Spec.Parallelism
	case "CronJob":
		var o batchv1.CronJob
		if err := json.Unmarshal(js, &o); err != nil {
			return fmt.Errorf("%s: %w", tm.Kind, err)
		}
		meta, template, replicas = o.ObjectMeta, o.Spec.JobTemplate.Spec.Template, o.Spec.JobTemplate.Spec.Parallelism
	default:
		m.skipped++
		return nil
	}
	defaultNS(&meta)
	n := 1
	if replicas != nil {
		n = int(*replicas)
	}
	pod := &corev1.Pod{ObjectMeta: template.ObjectMeta, Spec: template.Spec}
	pod.Namespace, pod.Name = meta.Namespace, meta.Name
	m.workloads = append(m.workloads, workload{Kind: tm.Kind, Namespace: meta.Namespace, Name: meta.Name, Replicas: n, Pod: pod})
	return nil
}

// withTypeMeta sets apiVersion and kind on a JSON object that lacks them.
func withTypeMeta(js []byte, apiVersion, kind string) []byte {
	var obj map[string]json.RawMessage
	if json.Unmarshal(js, &obj) != nil {
		return js
	}
	if _, ok := obj["kind"]; ok {
		return js
	}
	obj["apiVersion"], _ = json.Marshal(apiVersion)
	obj["kind"], _ = json.Marshal(kind)
	out, err := json.Marshal(obj)
	if err != nil {
		return js
	}
	return out
}
