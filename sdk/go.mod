module github.com/nsmesh/nsmesh/sdk

go 1.26
