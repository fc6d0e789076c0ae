# Reference values of the R package synthdid (synth-inference/synthdid at commit 70c1ce3)
# for tests/reference/test_synthdid_peers.py. Run from the repository root:
#   Rscript tests/reference/make_synthdid_reference.R
# (R with the package installed, e.g. R CMD INSTALL of that commit; mvtnorm from CRAN or
# Debian's r-cran-mvtnorm). Writes tests/reference/data/synthdid_reference.csv.
library(synthdid)
panel = read.csv("tests/reference/data/california_prop99.csv", sep = ";")
out = data.frame(case = character(), method = character(), key = character(),
                 value = numeric(), stringsAsFactors = FALSE)
add = function(case, method, key, value) {
  out[nrow(out) + 1, ] <<- list(case, method, key, value)
}
estimators = list(sdid = synthdid_estimate, sc = sc_estimate, did = did_estimate)

# 1. California: estimates, weights, and every placebo (each donor made treated in turn:
#    the values the placebo standard error samples from).
setup = panel.matrices(panel)
for (m in names(estimators)) {
  est = estimators[[m]](setup$Y, setup$N0, setup$T0)
  add("prop99", m, "estimate", c(est))
  w = attr(est, "weights")
  for (i in seq_along(w$omega)) add("prop99", m, paste0("omega:", rownames(setup$Y)[i]), w$omega[i])
  for (i in seq_along(w$lambda)) add("prop99", m, paste0("lambda:", colnames(setup$Y)[i]), w$lambda[i])
  opts = attr(est, "opts")
  N0 = setup$N0
  for (j in 1:N0) {
    ind = c(setdiff(1:N0, j), j)
    wb = w
    wb$omega = w$omega[ind[1:(N0 - 1)]] / sum(w$omega[ind[1:(N0 - 1)]])
    if (sum(w$omega[ind[1:(N0 - 1)]]) == 0) wb$omega = rep(1 / (N0 - 1), N0 - 1)
    pl = do.call(synthdid_estimate, c(list(Y = setup$Y[ind, ], N0 = N0 - 1, T0 = setup$T0,
                                           X = array(dim = c(N0, ncol(setup$Y), 0)), weights = wb), opts))
    add("prop99", m, paste0("placebo:", rownames(setup$Y)[j]), c(pl))
  }
}

# 2. Three treated states (California, Utah, Nevada from 1989): jackknife (deterministic).
three = panel
three$treated = ifelse(three$State %in% c("California", "Utah", "Nevada") & three$Year >= 1989, 1, 0)
setup3 = panel.matrices(three)
for (m in names(estimators)) {
  est = estimators[[m]](setup3$Y, setup3$N0, setup3$T0)
  add("three", m, "estimate", c(est))
  add("three", m, "jackknife_se", sqrt(vcov(est, method = "jackknife")))
}
write.csv(out, "tests/reference/data/synthdid_reference.csv", row.names = FALSE)
