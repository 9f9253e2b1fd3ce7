# Accuracy reference: the peer MLP (../shared/peers/mlp.py) trained for N epochs with AdamW 1e-3,
# constant LR, batch 256, printing the test accuracy per epoch. usage: python3 torch_mlp_accuracy.py N
import os; os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import sys, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../shared/peers'))
from common import setup, fashion_mnist
setup()
X, Y = fashion_mnist("train"); X = X.reshape(-1, 784)
Xt, Yt = fashion_mnist("test"); Xt = Xt.reshape(-1, 784)
m = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.0)
epochs = int(sys.argv[1])
for e in range(epochs):
    perm = torch.randperm(X.shape[0])
    for k in range(X.shape[0] // 256):
        i = perm[k*256:(k+1)*256]
        loss = F.cross_entropy(m(X[i]), Y[i])
        opt.zero_grad(); loss.backward(); opt.step()
    with torch.no_grad():
        acc = (m(Xt).argmax(1) == Yt).float().mean().item()
    print(e, loss.item(), acc, flush=True)
