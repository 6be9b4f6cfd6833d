from gen_common import write
C = {"code": "STAT", "name": "Probability and Statistics", "language": "en"}
E, F, I = "exercise", "fragment", "invalid"
items = [
("stat-2312-h1",I,None,None,"Probability and Statistics — Midterm exam, December 11, 2023\nFull name: ______________________   Student ID: __________"),
("stat-2312-h2",I,None,None,"Exam rules. You have 90 minutes. One A4 sheet of handwritten notes is allowed; statistical tables are provided at the end. Phones must be turned off. Show all your work for full marks."),
("stat-2312-1",E,"bayes","bayes-posterior","Problem 1 (8 points). A diagnostic test for a disease has sensitivity 0.95 and specificity 0.90. The disease affects 2% of the population. A person chosen at random tests positive.\n(a) What is the probability that the person has the disease?\n(b) What is the probability that a second, independent test is also positive?"),
("stat-2312-2",E,"discrete","binom-prob","Problem 2 (8 points). A factory produces chips, 3% of which are defective. A box contains 50 chips chosen independently. Let X be the number of defective chips in the box. Find the distribution of X, its expected value and variance, and compute P(X = 0) and P(X ≥ 3). Then approximate P(X ≥ 3) with a Poisson distribution and compare."),
("stat-2312-2c",F,None,None,"(c) Using the same box as above, find the probability that at least two boxes out of ten contain no defective chip."),
("stat-2312-3",E,"normal","normal-prob","Problem 3 (7 points). The weight of a bag of flour is normally distributed with mean 1000 g and standard deviation 12 g. Compute the probability that a bag weighs less than 980 g, and find the weight exceeded by only 5% of the bags."),
("stat-2312-p",I,None,None,"Page 1 of 3"),
("stat-2312-4",E,"ci","ci-mean","Problem 4 (7 points). A sample of 25 light bulbs has a mean lifetime of 1,180 hours and a sample standard deviation of 90 hours. Assuming lifetimes are normally distributed, construct a 95% confidence interval for the mean lifetime of the bulbs, and explain how the interval would change with a sample of 100 bulbs."),

("stat-2402-h1",I,None,None,"Probability and Statistics — Final exam — February 5, 2024. Duration: 2 hours. Calculators are allowed. Answer all the questions."),
("stat-2402-1",E,"bayes","bayes-posterior","Problem 1. Three machines A, B and C produce 50%, 30% and 20% of the items of a factory, with defect rates of 1%, 2% and 3% respectively. An item is picked at random and found defective. Use Bayes' theorem to compute the probability that it was produced by each machine."),
("stat-2402-2",E,"normal","normal-prob","Problem 2. Exam scores are normally distributed with mean 68 and standard deviation 10. What proportion of students score above 85? What score separates the lowest 10% of the students? Use the standard normal table and state the z-scores you use."),
("stat-2402-3",E,"test","test-mean","Problem 3. A coffee machine is supposed to dispense 250 ml per cup. In a sample of 16 cups the mean volume was 244 ml with a sample standard deviation of 8 ml. At the 5% significance level, test whether the machine dispenses less than it should. State the null and alternative hypotheses, the test statistic and its distribution, the p-value and your conclusion."),
("stat-2402-3b",F,None,None,"b) What would be the probability of a type II error of this test if the true mean were 240 ml?"),
("stat-2402-4",E,"regression","reg-fit","Problem 4. The table gives the advertising budget x (thousands of euros) and the sales y (thousands of units) of a shop over six months:\nx: 2, 3, 5, 7, 8, 10\ny: 14, 17, 23, 29, 31, 38\nFind the least squares regression line of y on x, compute the correlation coefficient, and predict the sales for a budget of 6."),
("stat-2402-f",I,None,None,"STAT final — Feb 2024 — page 2 of 3"),
("stat-2402-5",E,"discrete","binom-prob","Problem 5. The number of calls arriving at a help desk in one hour follows a Poisson distribution with mean 4. Compute the probability of exactly 2 calls in an hour, of more than 6 calls, and the expected number of hours with no calls in a working day of 8 hours."),

("stat-2406-h1",I,None,None,"Probability and Statistics — Resit — June 17, 2024\nInstructions: write your answers in the booklet. Time allowed: 2 hours. The use of mobile phones is not permitted."),
("stat-2406-1",E,"ci","ci-mean","Problem 1. In a poll of 400 voters, 172 support a proposal. Construct a 99% confidence interval for the proportion of supporters, and determine the sample size needed for a margin of error of at most 2% at the 95% confidence level."),
("stat-2406-2",E,"test","test-mean","Problem 2. Two groups of patients receive two different treatments. Group 1 (n = 30) has a mean recovery time of 12.1 days with standard deviation 2.4; group 2 (n = 35) has mean 13.4 days with standard deviation 2.9. Test at the 1% level whether the mean recovery times differ, stating the hypotheses, the test statistic and the p-value."),
("stat-2406-2b",F,None,None,"Repeat the test above at the 5% significance level: does your conclusion change?"),
("stat-2406-3",E,"bayes","bayes-posterior","Problem 3. An urn contains 4 red and 6 blue balls; a second urn contains 7 red and 3 blue balls. A fair coin decides the urn, and a ball is drawn. Given that the ball is red, compute the posterior probability that it came from the first urn."),
("stat-2406-4",E,"normal","normal-prob","Problem 4. The heights of adult men are normally distributed with mean 176 cm and standard deviation 7 cm. Compute the probability that a man is taller than 190 cm and the probability that the mean height of a random sample of 49 men exceeds 178 cm, using the central limit theorem."),
("stat-2406-5",E,"regression","reg-fit","Problem 5. For the data points (1, 2.1), (2, 3.9), (3, 6.2), (4, 7.8), (5, 10.1), fit a least squares regression line, compute the coefficient of determination R², and interpret the slope of the line."),
]
write("stat-en", C, "heldout", items)
