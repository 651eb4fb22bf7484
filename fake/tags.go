package fake

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

const maxTagsPerResource = 50

// tagSpecs returns the tags of specs meant for resource type rt. Specs for
// other types are refused, except those listed in also (RunInstances takes
// tags for its instances and their network interfaces in one request).
func tagSpecs(specs []types.TagSpecification, rt types.ResourceType, also ...types.ResourceType) (tags, error) {
	var out tags
	for _, s := range specs {
		if s.ResourceType != rt {
			if contains(also, s.ResourceType) {
				continue
			}
			return nil, invalidValue("'%s' is not a valid taggable resource type for this operation.", s.ResourceType)
		}
		if out == nil {
			out = make(tags)
		}
		if err := applyTags(out, s.Tags, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// applyTags validates tt and writes them into t.
func applyTags(t tags, tt []types.Tag, user bool) error {
	for _, tag := range tt {
		k := aws.ToString(tag.Key)
		if k == "" {
			return invalidValue("Tag keys must not be empty.")
		}
		if len(k) > 128 {
			return invalidValue("Tag key exceeds the maximum length of 128 characters: %s", k)
		}
		if len(aws.ToString(tag.Value)) > 256 {
			return invalidValue("Tag value exceeds the maximum length of 256 characters for key %s", k)
		}
		if user && strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidValue("Tag keys starting with 'aws:' are reserved for internal use")
		}
		t[k] = aws.ToString(tag.Value)
	}
	if len(t) > maxTagsPerResource {
		return apiError(CodeTagLimitExceeded, "The maximum number of Tags for a resource has been reached.")
	}
	return nil
}

// tagsOf finds the tags of any resource by ID, or returns EC2's error for an
// unknown or malformed ID, or for one whose creation has not propagated yet.
// The caller holds f.mu.
func (f *EC2) tagsOf(id string) (*meta, error) {
	s := &f.st
	var m *meta
	var code, kind string
	switch {
	case strings.HasPrefix(id, prefixAttachment):
		return nil, apiError(CodeInvalidID, "The ID '%s' is not valid", id)
	case strings.HasPrefix(id, prefixENI):
		code, kind = CodeNetworkInterfaceNotFound, "networkInterface"
		if e := s.enis[id]; e != nil {
			m = &e.meta
		}
	case strings.HasPrefix(id, prefixRule):
		code, kind = CodeSecurityGroupRuleIDNotFound, "securityGroupRule"
		if r := s.rules[id]; r != nil {
			m = &r.meta
		}
	case strings.HasPrefix(id, prefixGroup):
		code, kind = CodeGroupNotFound, "securityGroup"
		if g := s.groups[id]; g != nil {
			m = &g.meta
		}
	case strings.HasPrefix(id, prefixSubnet):
		code, kind = CodeSubnetNotFound, "subnet"
		if sn := s.subnets[id]; sn != nil {
			m = &sn.meta
		}
	case strings.HasPrefix(id, prefixVPC):
		code, kind = CodeVpcNotFound, "vpc"
		if v := s.vpcs[id]; v != nil {
			m = &v.meta
		}
	case strings.HasPrefix(id, prefixInstance):
		code, kind = CodeInstanceNotFound, "instance"
		if in := s.instances[id]; in != nil {
			m = &in.meta
		}
	case strings.HasPrefix(id, prefixAssociation):
		code, kind = CodeAssociationNotFound, "association"
		if a := s.assocs[id]; a != nil {
			m = &a.meta
		}
	default:
		return nil, apiError(CodeInvalidID, "The ID '%s' is not valid", id)
	}
	if m == nil || !f.sees(m) {
		return nil, notFound(code, kind, id)
	}
	if m.tags == nil {
		m.tags = make(tags)
	}
	return m, nil
}

// CreateTags adds or overwrites tags on one or more resources of any type the
// fake models. Every resource must exist; nothing is tagged otherwise. Keys
// starting with "aws:" are refused, and a resource holds at most 50 tags
// (TagLimitExceeded).
func (f *EC2) CreateTags(ctx context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	return call(ctx, f, ActionCreateTags, in, true, func(in *ec2.CreateTagsInput) (*ec2.CreateTagsOutput, error) {
		if len(in.Resources) == 0 {
			return nil, missing("ResourceId")
		}
		if len(in.Tags) == 0 {
			return nil, missing("Tag")
		}
		metas := make([]*meta, 0, len(in.Resources))
		for _, id := range in.Resources {
			m, err := f.tagsOf(id)
			if err != nil {
				return nil, err
			}
			trial := make(tags, len(m.tags)+len(in.Tags))
			for k, v := range m.tags {
				trial[k] = v
			}
			if err := applyTags(trial, in.Tags, true); err != nil {
				return nil, err
			}
			metas = append(metas, m)
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		for _, m := range metas {
			_ = applyTags(m.tags, in.Tags, true)
		}
		return &ec2.CreateTagsOutput{}, nil
	})
}

// DeleteTags removes tags from one or more resources. A tag given with a
// value is removed only when the value matches; a tag given without one is
// removed whatever its value; no tags at all removes every tag that does not
// start with "aws:".
func (f *EC2) DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	return call(ctx, f, ActionDeleteTags, in, true, func(in *ec2.DeleteTagsInput) (*ec2.DeleteTagsOutput, error) {
		if len(in.Resources) == 0 {
			return nil, missing("ResourceId")
		}
		metas := make([]*meta, 0, len(in.Resources))
		for _, id := range in.Resources {
			m, err := f.tagsOf(id)
			if err != nil {
				return nil, err
			}
			metas = append(metas, m)
		}
		if dry(in.DryRun) {
			return nil, dryRunError()
		}
		for _, m := range metas {
			if len(in.Tags) == 0 {
				for k := range m.tags {
					if !strings.HasPrefix(strings.ToLower(k), "aws:") {
						delete(m.tags, k)
					}
				}
				continue
			}
			for _, t := range in.Tags {
				k := aws.ToString(t.Key)
				if v, ok := m.tags[k]; ok && (t.Value == nil || *t.Value == v) {
					delete(m.tags, k)
				}
			}
		}
		return &ec2.DeleteTagsOutput{}, nil
	})
}
