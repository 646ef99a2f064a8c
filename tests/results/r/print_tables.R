# R's printed anova, drop1 and model-comparison tables of example(glm)'s glm.D93, the
# reference for tests/results/test_display.py (run: Rscript tests/results/r/print_tables.R).
# Recorded with R 4.2.2 Patched (2022-11-10 r83330), stats package of that version.
counts <- c(18, 17, 15, 20, 10, 20, 25, 13, 12)
outcome <- gl(3, 1, 9)
treatment <- gl(3, 3)
glm.D93 <- glm(counts ~ outcome + treatment, family = poisson())
options(show.signif.stars = FALSE)
print(anova(glm.D93, test = "Chisq"))
print(drop1(glm.D93, test = "Chisq"))
print(anova(glm(counts ~ outcome, family = poisson()), glm.D93, test = "Chisq"))
cat(R.version.string, "\n")
