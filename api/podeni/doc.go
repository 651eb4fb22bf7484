// Package podeni is the wire format between the controller that gives a pod
// a branch ENI and the node that wires it: the vpc.amazonaws.com/pod-eni
// annotation, as the Amazon VPC resource controller writes it and the VPC
// CNI plugin reads it.
//
// The annotation (AnnotationKey) is a JSON array whose element 0 the CNI
// plugin uses:
//
//	[{"eniId":"eni-0123456789abcdef0","ifAddress":"02:ab:cd:ef:01:23","privateIp":"10.0.1.7",
//	  "ipv6Addr":"","vlanId":3,"subnetCidr":"10.0.0.0/19","subnetV6Cidr":"",
//	  "associationID":"trunk-assoc-0123456789abcdef0"}]
//
// In an IPv6 cluster the element carries the ENI's IPv6 address and the
// subnet's IPv6 CIDR; an ENI without an IPv4 address (IPv6-only subnet) is
// written with "privateIp":"":
//
//	[{"eniId":"eni-0123456789abcdef1","ifAddress":"02:ab:cd:ef:01:24","privateIp":"",
//	  "ipv6Addr":"2600:1f14:abc:de00:1234:5678:9abc:7","vlanId":4,"subnetCidr":"10.0.0.0/19",
//	  "subnetV6Cidr":"2600:1f14:abc:de00::/64","associationID":"trunk-assoc-0123456789abcdef1"}]
//
// Format writes exactly the bytes the controller writes (its encoder's
// field order, empty strings for absent values), for either form.
//
// Parse decodes and validates it (both "vlanId" and the CNI's own "vlanID"
// spelling are accepted), naming the bad field in its errors (*Error,
// matching ErrInvalid); Format validates and encodes it. BranchENI is the
// typed element, with netip addresses and a comparable MAC.
//
// The package also holds the other names both sides agree on: the extended
// resource a pod requests and a node advertises (ResourceName), the Fargate
// annotation (FargateAnnotationKey), the VLAN bounds of the annotation and
// the form of an ENI ID (ValidENIID).
//
// podeni imports only the standard library (a test of this module checks
// it), so a CNI plugin or node agent can read the annotation without
// compiling Kubernetes client libraries or the EC2 SDK. Package enforce
// turns a BranchENI into the node's links, routes and rules.
package podeni
