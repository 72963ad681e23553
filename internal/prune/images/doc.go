// Package images decides and carries out `gantry adm prune images`: which images no one uses any
// more, and how to remove them so that nothing still referenced is ever lost.
//
// The decision is a pure function (NewPlan): the cluster's images, image streams and every object
// that can name an image (pods, replication controllers, replica sets, deployments, stateful sets,
// daemon sets, jobs, cron jobs, deployment configs, build configs and builds) go in; the plan comes
// out. An image is kept when any of these holds:
//
//   - it is one of the first --keep-tag-revisions revisions of a tag in some stream's status, or its
//     tag event or its stream is younger than --keep-younger-than;
//   - a stream's spec tag names it (an ImageStreamImage, or a DockerImage by digest);
//   - a pod (any container, init or ephemeral, or a container status' imageID) or a pod template
//     names it, by digest or by a tag (`stream:tag`, `project/stream:tag`, with any registry host:
//     the tag keeps the image it points to now);
//   - a build or build config names it (strategy from, output, source images, triggers), as an
//     ImageStreamTag, an ImageStreamImage or a DockerImage;
//   - it was created less than --keep-younger-than ago;
//   - it is an image of a kept manifest list;
//   - with --all=false, it is not in the integrated registry (no openshift.io/image.managed=true).
//
// Everything else is pruned. The plan lists, in the order Run applies them: tag history trimmed
// from image streams (status updates), manifests deleted from the registry repositories holding
// them, repository layer links and then blobs (layers, configurations, manifests) that no remaining
// image uses, and last the Image objects. Run stops short of a later step for anything an earlier
// step failed to remove, so a failure midway never deletes content that is still referenced, and
// running the command again finishes the work.
package images
