// The coordinator's live page: bounded probe series, the snapshot it shows, its HTTP routes.
export { ProbeSeriesStore, LIVE_PROBES, type ProbeSeriesOptions } from './probe-series.js';
export { liveSnapshot, levelCurve, quantileSorted, type LiveSnapshot, type LiveQuery } from './live-view.js';
export { liveRoutes, type LiveRoutesOptions } from './live-routes.js';
export { livePageHtml } from './live-page.js';
