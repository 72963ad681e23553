package idp

import (
	"os"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestMain(m *testing.M) {
	// bcrypt at its default cost takes most of a second under the race detector.
	bcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}
