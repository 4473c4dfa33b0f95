#!/usr/bin/env python3
"""Lower bound on a recording's total IAE at a given turnover, with perfect foresight.

A linear programme over the recording at 5-minute steps: choose net transfers u[t][p] between the recorded
positions (instant, free, summing to zero at every step) that minimise the backtest's total IAE
(sum over positions of |value - target| / portfolio value, in hours), subject to the moved value
(half the sum of |u|) being at most TURNOVER x the mean portfolio value. No causal controller can do better
at that turnover; it says how much of a recording's error is within any rebalancer's reach.

Usage: tools/iae_bound.py RECORDING_DIR TURNOVER [TURNOVER ...]   (needs numpy and scipy)
Positions and targets are read from RECORDING_DIR/config.toml (as `ballast synth` writes it), in order.
"""
import os,sys
import numpy as np, scipy.sparse as sp
from scipy.optimize import linprog
sys.path.insert(0,os.path.dirname(os.path.abspath(__file__)))
from policy_frontier import load  # the recording at 5-minute steps and the targets
X,T=load(sys.argv[1])
N,P=X.shape
V=X.sum(1)
dt=5/60
w=dt/V  # weight per abs error
nU=N*P
# vars: U (nU), A (nU), B (nU)
iU=lambda t,p: t*P+p
rows=[];cols=[];vals=[];b=[]
r=0
def add(entries,rhs):
    global r
    for c,v in entries: rows.append(r);cols.append(c);vals.append(v)
    b.append(rhs); r+=1
for t in range(N):
    for p in range(P):
        u=iU(t,p); a=nU+u; bb=2*nU+u
        e0=X[t,p]-T[p]
        add([(u,1),(a,-1)],-e0)      # U+e0 <= A
        add([(u,-1),(a,-1)],e0)      # -(U+e0) <= A
        if t>0:
            add([(u,1),(iU(t-1,p),-1),(bb,-1)],0)
            add([(u,-1),(iU(t-1,p),1),(bb,-1)],0)
        else:
            add([(u,1),(bb,-1)],0); add([(u,-1),(bb,-1)],0)
budget_row=r
add([(2*nU+i,0.5) for i in range(nU)],0)  # placeholder rhs
Aub=sp.csr_matrix((vals,(rows,cols)),shape=(r,3*nU))
# equality: sum_p U(t,p)=0
er=[];ec=[]
for t in range(N):
    for p in range(P): er.append(t);ec.append(iU(t,p))
Aeq=sp.csr_matrix((np.ones(len(er)),(er,ec)),shape=(N,3*nU))
c=np.concatenate([np.zeros(nU),np.repeat(w,P),np.zeros(nU)])
bounds=[(None,None)]*nU+[(0,None)]*(2*nU)
meanV=V.mean()
for turn in [float(x) for x in sys.argv[2:]]:
    bvec=np.array(b,dtype=float); bvec[budget_row]=turn*meanV
    res=linprog(c,A_ub=Aub,b_ub=bvec,A_eq=Aeq,b_eq=np.zeros(N),bounds=bounds,method='highs')
    print(f"turnover {turn}: min IAE {res.fun:.2f}",flush=True)
