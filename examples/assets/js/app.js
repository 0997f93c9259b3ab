// The example site's entry module: imports are rewritten to hashed names.
import { greet } from "./greet.js";

document.addEventListener("DOMContentLoaded", () => {
  const target = document.querySelector("[data-greeting]");
  if (target) target.textContent = greet("skewguard");
});
