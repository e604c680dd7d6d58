package goredisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// reloadOnConnError is the go-redis hook that New installs on a
// ClusterClient: it has the client reload the cluster's layout (CLUSTER
// SLOTS, in the background, at most every 200 ms) when a command fails other
// than with a reply from Redis, since the node may be gone and its slots
// served by another. go-redis reloads it by itself only on MOVED and ASK
// replies, which a dead node never sends, or once a minute.
type reloadOnConnError struct{ client *redis.ClusterClient }

func (h reloadOnConnError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnConnError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnConnError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h reloadOnConnError) check(ctx context.Context, err error) {
	var reply redis.Error // an answer from Redis: the node is there
	if err != nil && !errors.As(err, &reply) && ctx.Err() == nil {
		h.client.ReloadState(ctx)
	}
}
