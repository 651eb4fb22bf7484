package podeni

import "fmt"

// MAC is an Ethernet (EUI-48) address, comparable and allocation free.
type MAC [6]byte

// ParseMAC parses "02:ab:cd:ef:01:23" (colon-separated, hex, any case).
func ParseMAC(s string) (MAC, error) {
	var m MAC
	if len(s) != 17 {
		return m, badMAC(s)
	}
	for i := range 6 {
		if i > 0 && s[3*i-1] != ':' {
			return MAC{}, badMAC(s)
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return MAC{}, badMAC(s)
		}
		m[i] = hi<<4 | lo
	}
	return m, nil
}

func badMAC(s string) error {
	return fmt.Errorf("MAC address %q: want six colon-separated hex octets like 02:ab:cd:ef:01:23", s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String formats m as lowercase colon-separated hex.
func (m MAC) String() string {
	const digits = "0123456789abcdef"
	var b [17]byte
	for i, o := range m {
		if i > 0 {
			b[3*i-1] = ':'
		}
		b[3*i] = digits[o>>4]
		b[3*i+1] = digits[o&0xf]
	}
	return string(b[:])
}

// IsZero reports whether m is the all-zero address.
func (m MAC) IsZero() bool { return m == MAC{} }
