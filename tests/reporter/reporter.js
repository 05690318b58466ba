// What GitHub Classroom's reporter does with a grading step's result, for the tests.
// A port of classroom-resources/autograding-grading-reporter@v1 (MIT): src/main.js
// (runner ids -> <ID>_RESULTS environment variables, base64 JSON, the job fails on
// status "fail" or "error") and src/notify-classroom.js (Points = the tests' scores
// summed in order, in JavaScript numbers), with @actions/core's notice and
// setFailed written as the lines they print.
const runners = process.argv[2].split(",");
const runnerResults = runners.map((runner) => {
  const encoded = process.env[`${runner.trim().toUpperCase()}_RESULTS`];
  const json = Buffer.from(encoded, "base64").toString("utf-8");
  return { runner, results: JSON.parse(json) };
});
const { totalPoints, maxPoints } = runnerResults.reduce(
  (acc, { results }) => {
    if (!results.max_score) return acc;
    acc.maxPoints += results.max_score;
    results.tests.forEach(({ score }) => {
      acc.totalPoints += score;
    });
    return acc;
  },
  { totalPoints: 0, maxPoints: 0 }
);
if (maxPoints) console.log(`::notice title=Autograding complete::Points ${totalPoints}/${maxPoints}`);
const passed = runnerResults.reduce((n, { results }) => n + results.tests.filter((t) => t.status === "pass").length, 0);
console.log(`passed ${passed}`);
if (runnerResults.some((r) => r.results.status === "fail")) console.log("::error::Some tests failed.");
else if (runnerResults.some((r) => r.results.status === "error")) console.log("::error::Some tests errored.");
