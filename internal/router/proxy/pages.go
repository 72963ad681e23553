package proxy

import (
	"net/http"
	"strconv"
)

// page is a fixed error response. The unavailable page is the one answer
// for a host the router does not serve, a route not served on this scheme
// and a route without ready endpoints: it names no route, host or tenant,
// so a client cannot tell those cases apart or learn what else is hosted.
type page struct {
	status int
	body   []byte
	length []string
}

func newPage(status int, title, text string) *page {
	b := []byte("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
		"</title></head>\n<body><h1>" + title + "</h1>\n<p>" + text + "</p></body></html>\n")
	return &page{status: status, body: b, length: []string{strconv.Itoa(len(b))}}
}

var (
	pageUnavailable = newPage(http.StatusServiceUnavailable, "Application is not available",
		"The application is currently not serving requests at this endpoint. It may not have been started or is still starting.")
	pageForbidden  = newPage(http.StatusForbidden, "Forbidden", "Requests from your address are not allowed to this application.")
	pageTooMany    = newPage(http.StatusTooManyRequests, "Too many requests", "Too many requests from your address; try again in a few seconds.")
	pageBadGateway = newPage(http.StatusBadGateway, "Bad gateway", "The application did not answer correctly.")
	pageTimeout    = newPage(http.StatusGatewayTimeout, "Gateway timeout", "The application did not answer in time.")
)

// write sends the page and returns the body bytes written.
func (pg *page) write(w http.ResponseWriter) int64 {
	h := w.Header()
	h["Content-Type"] = valTextHTML
	h["Cache-Control"] = valNoStore
	h["Content-Length"] = pg.length
	w.WriteHeader(pg.status)
	n, _ := w.Write(pg.body)
	return int64(n)
}
