//go:build !linux

package testdb

import "context"

// cluster is unsupported off Linux: there New needs KEYHOLE_TEST_DATABASE.
type cluster struct {
	dir, url string
}

func startCluster(context.Context) (*cluster, error) {
	return nil, &unavailableError{errNotLinux.Error()}
}

func (c *cluster) stop() error { return nil }

// Start needs Linux.
func Start(ctx context.Context, dir string) (url string, stop func() error, err error) {
	return "", nil, errNotLinux
}

func (c *cluster) stopServer() error                     { return errNotLinux }
func (c *cluster) startServer(ctx context.Context) error { return errNotLinux }
func (c *cluster) running() bool                         { return false }
