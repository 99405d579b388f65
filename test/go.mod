module github.com/nsmesh/nsmesh/test

go 1.26.0

replace (
	github.com/nsmesh/nsmesh/apis => ../apis
	github.com/nsmesh/nsmesh/sdk => ../sdk
)

require (
	github.com/vishvananda/netlink v1.3.1
	github.com/vishvananda/netns v0.0.5
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.60.0
)

require golang.org/x/sys v0.48.0 // indirect
