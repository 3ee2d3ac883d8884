package results

import "syscall"

// unreachableOS matches Windows' own codes for a network path gone.
func unreachableOS(errno syscall.Errno) bool {
	switch errno {
	case 53, // ERROR_BAD_NETPATH
		59,   // ERROR_UNEXP_NET_ERR
		64,   // ERROR_NETNAME_DELETED
		67,   // ERROR_BAD_NET_NAME
		121,  // ERROR_SEM_TIMEOUT
		1231: // ERROR_NETWORK_UNREACHABLE
		return true
	}
	return false
}
