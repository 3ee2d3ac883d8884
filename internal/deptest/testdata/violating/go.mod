module example.com/violating

go 1.26

require go.etcd.io/bbolt v0.0.0

replace go.etcd.io/bbolt => ./bbolt
