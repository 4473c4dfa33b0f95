#!/usr/bin/env python3
"""How far simple causal rebalancing policies get on a recording: their IAE against their turnover.

A simplified replay at 5-minute steps: the recorded balance changes are applied to a simulated portfolio
and, after each step, a policy moves value between positions, instantly and for free (no delays, fees or
auctions). IAE and turnover are measured as the backtest measures them (total IAE: sum over positions of
|value - target| / portfolio value, in hours; turnover: moved value / mean portfolio value). Policies:

- threshold: a position below 75 % of its target is refilled to its target from positions above theirs
  (the `threshold` baseline with the shipped 25 % bands);
- band(trigger, refill, keep): a position more than `trigger` below target is refilled to `refill` below
  target from what positions hold above `keep` over theirs (a grid);
- drift(tau, gain): band(0.25, refill, 0) plus a feed-forward of each position's exogenous flow rate
  (an exponential average over `tau` steps): every step, `gain` times that rate is moved ahead of time;
- adaptive(trigger, refill, keep, a, b): band with per-position levels from each position's learned drift
  (its exogenous flow per day as a share of its target, an exponential average over two days): a position
  that drains triggers earlier (trigger * (1 + a * drift)) and one that fills gives its surplus away sooner
  (keep * (1 - b * drift)), since those deviations last rather than revert.

Every policy is causal: it sees the balances up to now and nothing of the future. With instant, free
transfers these figures are better than the full replay can reach; the question they answer is whether
any such policy reaches a given IAE at a given turnover. Prints the policies on the IAE-turnover frontier,
then the best IAE at no more turnover than `threshold`, against threshold's.

Usage: tools/policy_frontier.py RECORDING_DIR   (needs numpy)
Positions and targets are read from RECORDING_DIR/config.toml (as `ballast synth` writes it), in order.
"""
import collections, csv, gzip, itertools, os, re, sys

import numpy as np


def load(d):
    path = d + "/balances.csv.gz" if os.path.exists(d + "/balances.csv.gz") else d + "/balances.csv"
    f = gzip.open(path, "rt") if path.endswith(".gz") else open(path)
    rec, pos = collections.defaultdict(dict), []
    for r in csv.reader(f):
        if r[0] == "ts":
            continue
        k = (r[1], r[2])
        if k not in pos:
            pos.append(k)
        rec[r[0]][k] = float(r[3])
    ts = sorted(rec, key=int)[::5]
    targets = [float(x) for x in re.findall(r'target = "(\d+)"', open(d + "/config.toml").read())]
    return np.array([[rec[t][k] for k in pos] for t in ts]), np.array(targets)


def match(want, avail):
    """Fill the largest wants first from the largest sources; returns the net move per position."""
    m, a = np.zeros(len(want)), avail.copy()
    for p in np.argsort(-want):
        need = want[p]
        while need > 1e-9 and a.max() > 1e-9:
            s = int(np.argmax(a))
            q = min(need, a[s])
            a[s] -= q
            m[s] -= q
            m[p] += q
            need -= q
    return m


def run(X, T, policy):
    x, iae, moved, vsum, state = X[0].copy(), 0.0, 0.0, 0.0, {}
    for t in range(len(X)):
        if t > 0:
            x += X[t] - X[t - 1]
        v = x.sum()
        vsum += v
        m = policy(x, T, state)
        moved += np.abs(m).sum() / 2
        x += m
        iae += np.abs(x - T).sum() / v * 5 / 60
    return iae, moved / (vsum / len(X))


def band(trigger, refill, keep):
    def f(x, T, _):
        want = np.maximum(np.where(x < (1 - trigger) * T, (1 - refill) * T - x, 0), 0)
        return match(want, np.maximum(x - (1 + keep) * T, 0))

    return f


def flow_rate(st, x, tau):
    """Each position's exogenous flow per step: an exponential average over `tau` steps of the change since
    the balances the policy left last step (`st["after"]`, which the policy sets with `st["rate"]`)."""
    rate = st.get("rate", np.zeros(len(x)))
    if "after" in st:
        rate = rate + (x - st["after"] - rate) / tau
    return rate


def drift(tau, gain, refill):
    def f(x, T, st):
        rate = flow_rate(st, x, tau)
        ahead = -gain * rate
        want = np.maximum(ahead, 0) + np.maximum(np.where(x < 0.75 * T, (1 - refill) * T - x, 0), 0)
        avail = np.minimum(np.maximum(-ahead, 0) + np.maximum(x - T, 0), np.maximum(x, 0))
        m = match(want, avail)
        st["rate"], st["after"] = rate, x + m
        return m

    return f


def adaptive(trigger, refill, keep, a, b, tau=576):
    def f(x, T, st):
        rate = flow_rate(st, x, tau)
        drift = rate * 288 / T  # per day, as a share of the target
        trig = np.clip(trigger * (1 + a * drift), 0.02, 0.6)
        keep_p = np.clip(keep * (1 - b * drift), 0, 0.6)
        want = np.maximum(np.where(x < (1 - trig) * T, (1 - refill) * T - x, 0), 0)
        m = match(want, np.maximum(x - (1 + keep_p) * T, 0))
        st["rate"], st["after"] = rate, x + m
        return m

    return f


def main():
    X, T = load(sys.argv[1])
    runs = [("threshold", run(X, T, band(0.25, 0.0, 0.0)))]
    for trig, to, keep in itertools.product([0.05, 0.1, 0.15, 0.2, 0.25], [0, 0.05, 0.1], [0, 0.05, 0.1]):
        if to <= trig:
            runs.append((f"band({trig}, {to}, {keep})", run(X, T, band(trig, to, keep))))
    for tau, gain, to in itertools.product([144, 288], [0.15, 0.25, 0.35], [0, 0.1]):
        runs.append((f"drift({tau}, {gain}, {to})", run(X, T, drift(tau, gain, to))))
    for trig, to, keep, a, b in itertools.product([0.1, 0.15, 0.2, 0.25], [0, 0.05], [0.05, 0.1], [1, 2, 4], [1, 2, 4]):
        if to < trig:
            runs.append((f"adaptive({trig}, {to}, {keep}, {a}, {b})", run(X, T, adaptive(trig, to, keep, a, b))))
    print(f"{'policy':<32} {'IAE':>7} {'turnover':>9}   (frontier: the least IAE at each turnover)")
    best = float("inf")
    for name, (iae, tv) in sorted(runs, key=lambda r: r[1][1]):
        if iae < best:
            best = iae
            print(f"{name:<32} {iae:7.2f} {tv:9.3f}")
    th_iae, th_tv = runs[0][1]
    name, (iae, tv) = min(((n, r) for n, r in runs[1:] if r[1] <= th_tv), key=lambda r: r[1][0])
    print(f"\nthreshold: IAE {th_iae:.2f} at turnover {th_tv:.3f}")
    print(f"best at no more turnover: {name} IAE {iae:.2f} at {tv:.3f} ({(iae / th_iae - 1) * 100:+.0f} %)")


if __name__ == "__main__":
    main()
