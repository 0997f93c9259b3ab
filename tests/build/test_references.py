"""The CSS and JS reference finders: what is a reference, and what only looks like one."""

from skewguard.build.references import find_css_references, find_js_references


def css(text: str) -> list[str]:
    return [r.url for r in find_css_references(text.encode())]


def js(text: str, es_modules: bool = True) -> list[str]:
    return [r.url for r in find_js_references(text.encode(), es_modules=es_modules)]


def test_css_url_forms():
    assert css("a{background:url(img/a.png)}") == ["img/a.png"]
    assert css("a{background:url('img/b.png')}") == ["img/b.png"]
    assert css('a{background:url( "img/c.png" )}') == ["img/c.png"]
    assert css("a{background:URL(img/d.png)}") == ["img/d.png"]


def test_css_imports():
    assert css('@import "base.css";') == ["base.css"]
    assert css("@import 'base.css' screen;") == ["base.css"]
    assert css("@import url(theme.css);") == ["theme.css"]
    assert css('@import url("theme.css") layer(x);') == ["theme.css"]


def test_css_source_map_comment():
    assert css("a{}\n/*# sourceMappingURL=app.css.map */") == ["app.css.map"]


def test_css_comments_never_hold_references():
    text = """
    /* Example: .x { background: url("missing-from-docs.png") } */
    /* @import "nope.css"; */
    a { color: red } /* url(also-not.png) */
    b { background: url(real.png) }
    """
    assert css(text) == ["real.png"]


def test_css_strings_that_look_like_urls_are_not_references():
    assert css('a::after{content:"url(not-me.png)"} b{background:url(me.png)}') == ["me.png"]


def test_css_function_names_ending_in_url_are_not_url():
    assert css("a{mask:my-url(x.png)}") == []


def test_css_reference_lines():
    refs = find_css_references(b"a{}\n\nb{background:url(x.png)}\n@import 'y.css';")
    assert [(r.url, r.line) for r in refs] == [("x.png", 3), ("y.css", 4)]


def test_css_unterminated_comment_hides_the_rest():
    assert css("a{background:url(a.png)} /* never closed url(b.png)") == ["a.png"]


def test_js_static_imports_and_exports():
    text = """
    import a from "./a.js";
    import {b, c as d} from './b.js';
    import * as e from "/static/e.js";
    import f, {g} from "./f.js";
    import "./side-effect.js";
    export * from "./all.js";
    export {h} from "./h.js";
    export * as ns from "./ns.js";
    """
    assert js(text) == [
        "./a.js",
        "./b.js",
        "/static/e.js",
        "./f.js",
        "./side-effect.js",
        "./all.js",
        "./h.js",
        "./ns.js",
    ]


def test_js_minified_imports():
    assert js('import{a as b}from"./x.js";import"./y.js";export{c}from"./z.js"') == [
        "./x.js",
        "./y.js",
        "./z.js",
    ]


def test_js_dynamic_import():
    assert js('const m = await import("./lazy.js"); import(`./tpl-${x}.js`)') == ["./lazy.js"]


def test_js_source_map_comment():
    assert js("var a=1;\n//# sourceMappingURL=app.js.map") == ["app.js.map"]
    assert js("var a=1;\n//@ sourceMappingURL=old.js.map") == ["old.js.map"]


def test_js_es_modules_switch():
    assert js('import a from "./a.js";\n//# sourceMappingURL=x.map', es_modules=False) == ["x.map"]


def test_js_comments_and_strings_hide_imports():
    text = """
    // import a from "./in-line-comment.js";
    /* import b from "./in-block-comment.js"; */
    const s1 = 'import c from "./in-string.js"';
    const s2 = "export * from './in-string2.js'";
    const t = `import d from "./in-template.js"`;
    import real from "./real.js";
    """
    assert js(text) == ["./real.js"]


def test_js_regex_literals_do_not_confuse_the_scanner():
    text = r"""
    const r = /["'`]/g; const q = x.replace(/\/\*/, "");
    if (/import "x"/.test(s)) {}
    const half = total / 2; const ratio = a / b / c;
    import after from "./after.js";
    """
    assert js(text) == ["./after.js"]


def test_js_template_substitutions_with_nested_templates_and_braces():
    text = 'const x = `a ${ {k: `inner ${1}`}.k } b`; import y from "./y.js";'
    assert js(text) == ["./y.js"]


def test_js_property_named_import_is_not_an_import():
    assert js('obj.import("./not.js"); foo.export = 1; reimport("./no.js")') == []


def test_js_without_module_syntax_short_circuits():
    assert js("var importer = 1; module.exports = {};") == []


def test_js_escapes_and_stars_do_not_end_strings_or_comments_early():
    text = r"""
    const a = "quote \" import x from './in-string.js' \\";
    const b = 'it\'s import("./also-in-string.js")';
    /** a doc comment * with ** stars import z from "./in-comment.js" **/
    /* unterminated? no: */ import real from "./real.js";
    const t = `back\`tick ${"}"} import w from "./in-template.js" $notsub`;
    """
    assert js(text) == ["./real.js"]


def test_js_identifiers_that_contain_the_keywords():
    text = (
        "importScripts('./worker.js'); exportData(); const $import = 1, _export = 2, imports = 3;"
    )
    assert js(text) == []
    assert js('x=1;import"./bare.js";export{a}from"./b.js"') == ["./bare.js", "./b.js"]


def test_css_escaped_quotes_and_comment_stars():
    text = r"""
    a::after { content: "\"url(in-string.png)\""; }
    /** url(in-comment.png) ** still comment */
    b { background: url("real.png"); }
    """
    assert css(text) == ["real.png"]


def test_css_escaped_quotes_outside_strings_open_no_string():
    # A Tailwind-style selector escapes quotes and parentheses; the url() after it is real.
    text = r".tw\:bg-\[url\(\'non_exist.png\'\)\] { background: url(../img/a.png); }"
    assert css(text) == ["../img/a.png"]
    assert css(r'.a\"b { background: url(x.png) } .c { content: "url(y.png)" }') == ["x.png"]
