package scenarios

import (
	"context"
	"errors"

	"halab/faults"
)

// fault carries out a fault step through the lab's fault engine, the one
// the teaching page's buttons use too (package faults).
func (r *run) fault(ctx context.Context, st *Step) error {
	e := r.eng
	switch {
	case st.Signal != nil:
		g := st.Signal
		if g.Daemon != "" {
			return e.SignalDaemon(ctx, g.Node, g.Daemon, faults.SignalByName(g.Signal))
		}
		return e.SignalProcess(ctx, g.Node, g.Process, g.Signal)
	case st.Stop != nil:
		return e.StopDaemon(ctx, st.Stop.Node, st.Stop.Daemon)
	case st.Start != nil:
		return e.StartDaemon(ctx, st.Start.Node, st.Start.Daemon)
	case st.Restart != nil:
		return e.RestartDaemon(ctx, st.Restart.Node, st.Restart.Daemon)
	case st.LinkDown != nil:
		return e.SetLink(st.LinkDown.Node, st.LinkDown.Iface, false)
	case st.LinkUp != nil:
		return e.SetLink(st.LinkUp.Node, st.LinkUp.Iface, true)
	case st.Crash != "":
		return e.Crash(ctx, st.Crash)
	case st.Recover != "":
		return e.Recover(ctx, st.Recover)
	case st.Partition != nil:
		return e.Partition(ctx, st.Partition.Groups)
	case st.Heal:
		e.Heal(ctx)
	case st.BlockVRRP != nil:
		return e.BlockVRRP(ctx, st.BlockVRRP...)
	case st.UnblockVRRP:
		return e.UnblockVRRP(ctx)
	case st.Loss != nil:
		return e.Loss(ctx, st.Loss.Node, st.Loss.Iface, st.Loss.Percent)
	case st.Bandwidth != nil:
		b := st.Bandwidth
		return e.Bandwidth(ctx, b.Node, b.Iface, b.Rate, b.Burst)
	default:
		return errors.New("not a fault step")
	}
	return nil
}
