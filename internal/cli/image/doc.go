// Package image implements the image stream verbs `gantry tag` and `gantry import-image`, which
// behave as `oc tag` and `oc import-image` of OpenShift 3.11.
//
// `tag` writes spec tags through the imagestreamtags API (the server creates the stream when it
// is missing and resolves tags that follow other tags): SOURCE is an image stream tag, an image
// stream image or an external pull spec. Without --alias an image stream tag source is resolved,
// on the client as oc does, to the image it points at now, so the new tag does not move when the
// source does; with --alias the tag tracks its source within the stream.
//
// `import-image` creates an ImageStreamImport for the stream's external tags (or a new one with
// --from and --confirm) and prints the stream and the imported images as oc describes them. A
// tag that could not be imported is an error: its message, and exit code 1.
package image
