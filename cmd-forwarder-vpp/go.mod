module github.com/nsmesh/nsmesh/cmd-forwarder-vpp

go 1.26.0

replace (
	github.com/nsmesh/nsmesh/apis => ../apis
	github.com/nsmesh/nsmesh/sdk => ../sdk
)

require (
	github.com/kelseyhightower/envconfig v1.4.0
	github.com/nsmesh/nsmesh/apis v0.0.0
	github.com/nsmesh/nsmesh/sdk v0.0.0
	github.com/sirupsen/logrus v1.10.2
	github.com/vishvananda/netlink v1.3.1
	go.fd.io/govpp v0.13.0
	go.uber.org/goleak v1.3.0
	google.golang.org/grpc v1.85.0
)

require (
	github.com/Microsoft/go-winio v0.6.2 // indirect
	github.com/edwarnicke/grpcfd v1.1.4 // indirect
	github.com/edwarnicke/serialize v0.0.0-20200705214914-ebc43080eecf // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/go-jose/go-jose/v4 v4.1.5 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/lunixbochs/struc v0.0.0-20200521075829-a4cb8d33dbbe // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/spiffe/go-spiffe/v2 v2.9.0 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261104224025-d1e00e9f33ab // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
