// The date pickers speak the page's language: Dash's picker formats with the first locale in
// window.dateFns.locale (date-fns-4.1.0-zh-CN.min.js, date-fns' own build, MIT licence, registers
// zhCN), or date-fns' English when there is none. The language control calls this on every switch.
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.cockpit = Object.assign({}, window.dash_clientside.cockpit, {
  pickerLocale: function (lang) {
    var fns = (window.dateFns = window.dateFns || {});
    var all = (window.cockpitDateLocales = window.cockpitDateLocales || Object.assign({}, fns.locale));
    fns.locale = lang === "zh" && all.zhCN ? { zhCN: all.zhCN } : {};
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    return lang;
  }
});
