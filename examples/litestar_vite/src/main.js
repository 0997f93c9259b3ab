// A tiny Inertia app on @inertiajs/core's router (React or Vue work the same way). The Django
// stack tests build the same sources with django-vite and inertia-django.
import { router } from "@inertiajs/core";
import { release } from "./release.js";

window.appRelease = release;
window.loadLazy = () => import("./lazy.js").then((module) => module.lazyValue);

// litestar-vite's tag loads this module "async": it may run before the body is parsed.
if (document.readyState === "loading") {
  await new Promise((resolve) => document.addEventListener("DOMContentLoaded", resolve));
}
const root = document.getElementById("app");
// The page object: in data-page (litestar-vite) or in a JSON script tag (inertia-django 2).
const pageScript = document.querySelector('script[data-page="app"]');
const initialPage = JSON.parse(pageScript ? pageScript.textContent : root.dataset.page);

function render(page) {
  root.innerHTML = `
    <h1 id="component">${page.component}</h1>
    <p>likes: <span id="likes">${page.props.likes ?? 0}</span>, release <span id="release">${release}</span></p>
    <button id="like" type="button">Like</button>
    <a id="other-link" href="/other">Other page</a> <a id="home-link" href="/">Home</a>`;
  root.querySelector("#like").addEventListener("click", () => router.post("/like", {}));
  for (const link of root.querySelectorAll("a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      router.visit(link.getAttribute("href"));
    });
  }
}

render(initialPage);
router.init({
  initialPage,
  resolveComponent: async (name) => name,
  swapComponent: async ({ page }) => render(page),
});
window.inertiaRouter = router;
