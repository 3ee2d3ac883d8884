// Package store may use bbolt (the rule for control is not for its subtree).
package store

import _ "go.etcd.io/bbolt"
