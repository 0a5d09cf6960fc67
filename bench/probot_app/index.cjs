// The Probot peer of the intake bench: one handler that does nothing, as a minimal app would.
module.exports = (app) => {
  app.on("issues.labeled", async () => {});
};
