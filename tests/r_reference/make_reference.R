# Reference numbers from R for glmspec's inference tests (tests/inference/test_against_r.py).
#
# Run from the repository root:   Rscript tests/r_reference/make_reference.R [output.json]
# It reads the bundled CSVs in datasets/ and writes tests/r_reference/r_reference.json, with
# R.version.string and packageVersion() of every package used next to the numbers, at full
# precision (17 significant digits). The tests read that JSON and never need R.
#
# Every fit uses a tight convergence tolerance (glm.control(epsilon = 1e-12)) so that R's
# numbers are the exact optimum to far below the tests' 1e-6 relative tolerance; the fits with
# aliased columns use epsilon = 1e-9 instead, because glm.fit's QR rank tolerance is
# min(1e-7, epsilon / 1000) and must stay well above rounding (with 1e-11 R no longer finds
# hour + factor(hour) aliased); they are Poisson and quasi-Poisson fits (canonical link: IRLS is
# Newton's method), whose estimates at 1e-9 and 1e-10 agree to rounding.

suppressPackageStartupMessages({
  library(jsonlite)
  library(MASS)
  library(brglm2)
  library(emmeans)
  library(sandwich)
  library(pscl)
})
invisible(Sys.setlocale("LC_COLLATE", "C")) # factor levels sorted as patsy sorts them

args <- commandArgs(trailingOnly = TRUE) # optional: another output path (the tests use one)
out_path <- if (length(args)) args[[1]] else "tests/r_reference/r_reference.json"
data_dir <- "datasets"
if (!file.exists(file.path(data_dir, "spector.csv"))) {
  stop("run from the repository root (datasets/ not found)")
}
read <- function(name) read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)

cpunish <- read("cpunish")
star98 <- read("star98")
spector <- read("spector")
anes96 <- read("anes96")
scotland <- read("scotland")
randhie <- read("randhie")
restaurant <- read("restaurant_visitors")

tight <- glm.control(epsilon = 1e-12, maxit = 100)
aliased_control <- glm.control(epsilon = 1e-9, maxit = 100)

# glm.fit's standard errors and Pearson dispersion use the working weights of its *last
# iteration's start* (the previous estimates), not of the final estimates, so they carry the
# last step's size (about 1e-6 relative for the aliased fits below at epsilon = 1e-9). One more
# fit started at the estimates makes that step negligible: polish() does it (aliased columns
# start at 0, which changes nothing as they are combinations of the others).
polish <- function(fit) {
  start <- coef(fit)
  start[is.na(start)] <- 0
  update(fit, start = start)
}

named <- function(x) list(names = names(x), values = unname(as.numeric(x)))

glm_summary <- function(fit) {
  s <- summary(fit)
  b <- coef(fit) # NA for aliased columns, in model-matrix order
  se <- rep(NA_real_, length(b))
  names(se) <- names(b)
  se[rownames(s$coefficients)] <- s$coefficients[, "Std. Error"]
  list(
    coef = named(b), se = named(se), deviance = deviance(fit),
    null_deviance = fit$null.deviance, aic = AIC(fit), dispersion = s$dispersion,
    df_resid = df.residual(fit), rank = fit$rank, loglik = as.numeric(logLik(fit))
  )
}

table_json <- function(tab) {
  tab <- as.data.frame(tab)
  list(rows = rownames(tab), columns = lapply(as.list(tab), function(v) unname(as.numeric(v))))
}

ref <- list()

# ---- 1. glm summaries ---------------------------------------------------------------------
fits <- list(
  cpunish_poisson = glm(EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + VC100k96 + SOUTH + DEGREE,
                        family = poisson, data = cpunish, control = tight),
  star98_binomial = glm(cbind(NABOVE, NBELOW) ~ LOWINC + PERASIAN + PERBLACK + PERHISP +
                          PCTCHRT + PCTYRRND + PERMINTE + AVYRSEXP + AVSALK + PERSPENK +
                          PTRATIO + PCTAF,
                        family = binomial, data = star98, control = tight),
  spector_logit = glm(GRADE ~ GPA + TUCE + PSI, family = binomial, data = spector,
                      control = tight),
  scotland_gamma = glm(YES ~ COUTAX + UNEMPF + MOR + ACT + GDP + AGE + COUTAX_FEMALEUNEMP,
                       family = Gamma, data = scotland, control = tight),
  # prior weights and an offset, on Gamma with the log link (estimated dispersion)
  scotland_gamma_log_weights_offset = glm(YES ~ COUTAX + UNEMPF + AGE, family = Gamma("log"),
                                          data = scotland, weights = ACT / 80,
                                          offset = log(MOR / 100), control = tight),
  # a numeric written before a factor: patsy puts the factor's columns first
  restaurant_poisson = glm(visitors ~ temperature + factor(weekday) + rain, family = poisson,
                           data = restaurant, control = tight),
  # prior weights and an offset on a Poisson fit
  restaurant_poisson_weights_offset = glm(visitors ~ temperature + factor(weekday) * rain,
                                          family = poisson, data = restaurant,
                                          weights = event + 1, offset = log(hour),
                                          control = tight),
  anes96_gamma = glm(age ~ logpopul + factor(educ) + TVnews, family = Gamma("log"),
                     data = anes96, control = tight)
)
fits <- lapply(fits, polish)
ref$glm <- lapply(fits, glm_summary)

# ---- 2. sequential anova and drop1 ----------------------------------------------------------
anova_of <- function(fit) {
  list(Chisq = table_json(anova(fit, test = "Chisq")),
       F = suppressWarnings(table_json(anova(fit, test = "F"))))
}
drop1_of <- function(fit) {
  list(none = table_json(drop1(fit)),
       Chisq = table_json(drop1(fit, test = "Chisq")),
       F = suppressWarnings(table_json(drop1(fit, test = "F"))))
}
ref$anova <- lapply(fits[c("restaurant_poisson", "restaurant_poisson_weights_offset",
                           "anes96_gamma", "scotland_gamma_log_weights_offset")], anova_of)
ref$drop1 <- lapply(fits[c("restaurant_poisson", "restaurant_poisson_weights_offset",
                           "anes96_gamma", "scotland_gamma_log_weights_offset",
                           "cpunish_poisson")], drop1_of)

# anova of nested models (anova.glmlist): the largest model's dispersion; an F test on a
# fixed-dispersion family has infinite denominator df
small_models <- list(
  restaurant_poisson_weights_offset = glm(visitors ~ temperature + factor(weekday) + rain,
                                          family = poisson, data = restaurant,
                                          weights = event + 1, offset = log(hour),
                                          control = tight),
  anes96_gamma = glm(age ~ logpopul, family = Gamma("log"), data = anes96, control = tight)
)
ref$anova_models <- lapply(names(small_models), function(name) {
  small <- polish(small_models[[name]])
  big <- fits[[name]]
  list(Chisq = table_json(anova(small, big, test = "Chisq")),
       F = suppressWarnings(table_json(anova(small, big, test = "F"))))
})
names(ref$anova_models) <- names(small_models)

# influence measures (expected-information leverages, as R) and predictions with SEs
influence_of <- function(fit) {
  list(hat = unname(hatvalues(fit)), rstandard = unname(rstandard(fit)),
       rstandard_pearson = unname(rstandard(fit, type = "pearson")),
       rstudent = unname(rstudent(fit)), cooks = unname(cooks.distance(fit)),
       dfbeta = named(dfbeta(fit)[7, ])) # one row's coefficient changes
}
ref$influence <- lapply(fits[c("cpunish_poisson", "spector_logit",
                               "scotland_gamma_log_weights_offset",
                               "restaurant_poisson_weights_offset")], influence_of)
prediction_of <- function(fit, newdata) {
  link <- predict(fit, newdata = newdata, type = "link", se.fit = TRUE)
  response <- predict(fit, newdata = newdata, type = "response", se.fit = TRUE)
  list(rows = nrow(newdata), link = unname(link$fit), link_se = unname(link$se.fit),
       mean = unname(response$fit), mean_se = unname(response$se.fit))
}
ref$prediction <- list(
  restaurant_poisson_weights_offset = prediction_of(fits$restaurant_poisson_weights_offset,
                                                    restaurant[seq(1, 3000, by = 250), ]),
  scotland_gamma_log_weights_offset = prediction_of(fits$scotland_gamma_log_weights_offset,
                                                    scotland[1:8, ])
)

# ---- 3. profile-likelihood intervals (MASS) and their exact roots ----------------------------
# MASS's confint.glm interpolates a spline through a grid of the signed root deviance; the
# exact root is found here too, with uniroot on glm.fit refits (the coefficient fixed in the
# offset), so the JSON holds R's own measure of the spline's error.
signed_root <- function(fit, j, b) {
  X <- model.matrix(fit)
  off <- if (is.null(fit$offset)) rep(0, nrow(X)) else fit$offset
  others <- setdiff(which(!is.na(coef(fit))), j) # aliased columns stay out, as profile.glm
  refit <- glm.fit(X[, others, drop = FALSE], fit$y, weights = fit$prior.weights,
                   offset = off + X[, j] * b, family = family(fit),
                   control = glm.control(epsilon = 1e-14, maxit = 200))
  disp <- summary(fit)$dispersion
  sign(b - coef(fit)[j]) * sqrt(max(refit$deviance - deviance(fit), 0) / disp)
}
profile_of <- function(fit, parm = names(coef(fit)), level = 0.95) {
  ci <- suppressMessages(confint(fit, parm = parm, level = level))
  ci <- matrix(ci, ncol = 2) # one row per parameter, also for a single one
  q <- qnorm(1 - (1 - level) / 2)
  b <- coef(fit)
  exact <- ci
  for (i in seq_along(parm)) {
    j <- match(parm[i], names(b))
    if (is.na(b[j])) next # aliased: NA, as confint
    for (side in 1:2) {
      target <- if (side == 1) -q else q
      far <- b[j] + 2 * (ci[i, side] - b[j])
      root <- uniroot(function(x) signed_root(fit, j, x) - target, sort(c(b[j], far)),
                      tol = 1e-13 * max(1, abs(b[j])), maxiter = 1000)
      exact[i, side] <- root$root
    }
  }
  list(names = parm, level = level, mass_lower = ci[, 1], mass_upper = ci[, 2],
       exact_lower = exact[, 1], exact_upper = exact[, 2])
}
ref$profile <- lapply(fits[c("spector_logit", "cpunish_poisson", "scotland_gamma",
                             "scotland_gamma_log_weights_offset")], profile_of)

# ---- 4. Firth (brglm2, type = "AS_mean") ------------------------------------------------------
# anes96 respondents with education 1 (grades 1-8): 13 rows, the vote is completely separated
# by party identification (PID 0-2 all vote 0, PID 4 and 6 all vote 1), so the ML estimates
# are infinite and the bias-reduced ones finite.
anes_educ1 <- subset(anes96, educ == 1)
firth_fit <- function(formula, family, data) {
  fit <- glm(formula, family = family, data = data, method = "brglmFit", type = "AS_mean",
             epsilon = 1e-12, maxit = 500)
  s <- summary(fit)
  X <- model.matrix(fit)
  w <- fit$weights # working weights at the estimates
  info <- crossprod(X * sqrt(w))
  loglik <- as.numeric(logLik(fit))
  list(coef = named(coef(fit)), se = named(s$coefficients[, "Std. Error"]),
       deviance = deviance(fit), converged = fit$converged, loglik = loglik,
       penalized_loglik = loglik + 0.5 * as.numeric(determinant(info)$modulus))
}
ref$firth <- list(
  anes96_educ1_separated = firth_fit(vote ~ PID + selfLR, binomial, anes_educ1),
  cpunish_poisson = firth_fit(EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + VC100k96 + SOUTH +
                                DEGREE, poisson, cpunish)
)
ml_separated <- suppressWarnings(glm(vote ~ PID + selfLR, family = binomial, data = anes_educ1))
ref$firth$anes96_educ1_separated$ml_deviance <- deviance(ml_separated) # ~0: separated

# ---- 5. emmeans -------------------------------------------------------------------------------
emm_of <- function(fit, spec) {
  emm <- suppressMessages(emmeans(fit, spec, type = "response"))
  means <- as.data.frame(summary(emm))
  pair_tables <- list()
  for (adjust in c("tukey", "holm", "none")) {
    pr <- pairs(emm, adjust = adjust)
    tests <- as.data.frame(summary(pr, infer = c(TRUE, TRUE), adjust = adjust))
    pair_tables[[adjust]] <- list(
      contrast = as.character(tests$contrast),
      estimate = tests[[2]], se = tests$SE, df = tests$df,
      statistic = tests[[ncol(tests) - 1]], pvalue = tests$p.value,
      lower = tests[[grep("LCL|lower", names(tests))]], upper = tests[[grep("UCL|upper", names(tests))]],
      estimate_name = names(tests)[2]
    )
  }
  list(
    levels = as.character(means[[1]]), estimate = means[[2]], se = means$SE, df = means$df,
    lower = means[[grep("LCL|lower", names(means))]], upper = means[[grep("UCL|upper", names(means))]],
    estimate_name = names(means)[2], pairs = pair_tables
  )
}
emm_fits <- list(
  restaurant_poisson = list(fits$restaurant_poisson, "weekday"),
  anes96_logit = list(glm(vote ~ factor(educ) + age + selfLR, family = binomial, data = anes96,
                          control = tight), "educ"),
  anes96_gamma = list(fits$anes96_gamma, "educ"),
  # prior weights and an offset = argument (emmeans: a "static" offset, at its mean), with the
  # factor inside an interaction (averaged over rain's two values)
  restaurant_poisson_weights_offset = list(fits$restaurant_poisson_weights_offset, "weekday")
)
emm_fits$anes96_logit[[1]] <- polish(emm_fits$anes96_logit[[1]])
ref$emmeans <- lapply(emm_fits, function(x) emm_of(x[[1]], x[[2]]))

# ---- 6. aliased columns (singular.ok = TRUE): empty interaction cells ------------------------
# anes96 has no respondent with education 1 and PID 3 or 5: two empty cells of educ x PID, so
# the interaction's columns are rank-deficient (R gives NA for the aliased ones).
singular_fits <- list(
  anes96_poisson_educ_pid = glm(age ~ TVnews + factor(educ) * factor(PID), family = poisson,
                                data = anes96, control = aliased_control),
  anes96_quasipoisson_educ_pid = glm(age ~ factor(educ) * factor(PID), family = quasipoisson,
                                     data = anes96, control = aliased_control)
)
# hour written before factor(hour): hour is a combination of the intercept and the factor's
# columns, and R (walking its model matrix in term order) gives the last factor column NA
singular_fits$restaurant_hour_twice <- glm(visitors ~ hour + factor(hour) + rain,
                                           family = poisson, data = restaurant,
                                           control = aliased_control)
singular_fits <- lapply(singular_fits, polish)
ref$singular <- lapply(singular_fits, function(fit) {
  c(glm_summary(fit), list(aliased = I(names(coef(fit))[is.na(coef(fit))]),
                           anova = anova_of(fit), drop1 = drop1_of(fit)))
})
# profile intervals next to the aliased columns (their own limits are NA)
ref$singular$anes96_poisson_educ_pid$profile <- profile_of(
  singular_fits$anes96_poisson_educ_pid,
  c("TVnews", "factor(PID)3", "factor(educ)6:factor(PID)3", "factor(educ)7:factor(PID)3",
    "factor(educ)7:factor(PID)4")
)
# anova of two nested fits with aliased columns: the df are differences of ranks
ref$singular$anova_two_models <- table_json(anova(
  glm(age ~ TVnews + factor(educ) + factor(PID), family = poisson, data = anes96,
      control = aliased_control),
  singular_fits$anes96_poisson_educ_pid, test = "Chisq"
))

# ---- 7. negative binomial and pscl::odTest -----------------------------------------------------
# cpunish without VC100k96 and DEGREE is overdispersed (theta about 2.3); the restaurant model
# without the event column strongly so. odTest prints its numbers rounded, so the statistic and
# p-value are recomputed here exactly as odTest's body computes them (its printout is kept).
nb_control <- glm.control(epsilon = 1e-11, maxit = 100) # 1e-12: theta.ml noise, no end
od_of <- function(formula, data) {
  nb <- eval(bquote(glm.nb(.(formula), data = .(data), control = nb_control)))
  pois <- glm(formula, family = poisson, data = data, control = tight)
  stat <- as.numeric(2 * (logLik(nb) - logLik(pois)))
  printed <- capture.output(odTest(nb, digits = 10))
  # theta.ml reports 1/sqrt(information) at the theta *before* its last Newton step (which
  # stops below eps = .Machine$double.eps^0.25); the same information (theta.ml's formula) at
  # the estimate itself:
  y <- nb$y
  mu <- fitted(nb)
  w <- nb$prior.weights
  th <- nb$theta
  info <- sum(w * (-trigamma(th + y) + trigamma(th) - 1 / th + 2 / (mu + th) -
                     (y + th) / (mu + th)^2))
  # profile-likelihood interval of theta: {theta : 2 (loglik_max - l_p(theta)) <= qchisq},
  # l_p(theta) the maximum over the coefficients of glm(family = negative.binomial(theta)),
  # the exact roots by uniroot on log(theta); the upper limit is Inf when the Poisson limit
  # (theta -> Inf) is inside the cut-off
  cut <- qchisq(0.95, 1)
  ll_max <- as.numeric(logLik(nb))
  at_theta <- function(log_theta) {
    fit <- glm(formula, family = negative.binomial(exp(log_theta)), data = data,
               start = coef(nb), control = glm.control(epsilon = 1e-14, maxit = 200))
    2 * (ll_max - as.numeric(logLik(fit))) - cut
  }
  lt <- log(nb$theta)
  lower <- exp(uniroot(at_theta, c(lt - 1, lt), extendInt = "downX", tol = 1e-12)$root)
  upper <- if (2 * (ll_max - as.numeric(logLik(pois))) <= cut) Inf else
    exp(uniroot(at_theta, c(lt, lt + 1), extendInt = "upX", tol = 1e-12)$root)
  profile_theta <- list(level = 0.95, lower = lower, upper = upper, upper_is_inf = is.infinite(upper),
                        loglik_at_theta_hat = ll_max - (at_theta(lt) + cut) / 2)
  c(glm_summary(nb), list(theta = nb$theta, se_theta = nb$SE.theta, twologlik = nb$twologlik,
                          profile_theta = profile_theta,
                          se_theta_at_estimate = 1 / sqrt(info),
                          poisson_loglik = as.numeric(logLik(pois)),
                          odtest = list(statistic = stat,
                                        pvalue = pchisq(stat, df = 1, lower.tail = FALSE) / 2,
                                        printed = printed)))
}
ref$negbin <- list(
  cpunish = od_of(EXECUTIONS ~ INCOME + PERPOVERTY + PERBLACK + SOUTH, cpunish),
  restaurant = od_of(visitors ~ hour + factor(weekday) + rain + temperature, restaurant),
  # the simulation's own (Poisson) model: theta is large and poorly determined (glm.nb warns
  # that its alternation limit is reached: theta's likelihood is flat, theta still agrees with
  # glmspec's to 4e-9), odTest's statistic is below the cut-off, so theta's upper limit is Inf
  restaurant_poisson_truth = suppressWarnings(od_of(
    visitors ~ hour + factor(weekday) + rain + temperature + event, restaurant
  ))
)

# ---- 8. sandwich: vcovHC and vcovCL -------------------------------------------------------------
se_of <- function(v) named(sqrt(diag(v)))
sandwich_of <- function(fit) {
  out <- lapply(c(HC0 = "HC0", HC1 = "HC1", HC2 = "HC2", HC3 = "HC3"),
                function(type) se_of(vcovHC(fit, type = type)))
  out$cov_HC3 <- unname(as.vector(vcovHC(fit, type = "HC3")))
  out
}
ref$sandwich <- list(
  cpunish_poisson = sandwich_of(fits$cpunish_poisson),
  spector_logit = sandwich_of(fits$spector_logit),
  restaurant_poisson_cluster_date = list(
    HC1 = se_of(vcovCL(fits$restaurant_poisson, cluster = ~date, type = "HC1", cadjust = TRUE)),
    HC0 = se_of(vcovCL(fits$restaurant_poisson, cluster = ~date, type = "HC0", cadjust = TRUE))
  )
)

# ---- provenance and output ----------------------------------------------------------------------
packages <- c("MASS", "brglm2", "emmeans", "sandwich", "pscl", "jsonlite")
ref$provenance <- list(
  script = "tests/r_reference/make_reference.R",
  R = R.version.string,
  packages = setNames(lapply(packages, function(p) as.character(packageVersion(p))), packages),
  note = "generated by Rscript tests/r_reference/make_reference.R from datasets/*.csv"
)
ref <- ref[c("provenance", setdiff(names(ref), "provenance"))]
write_json(ref, out_path, digits = I(17), auto_unbox = TRUE, pretty = TRUE, na = "null")
cat("wrote", out_path, "\n")
