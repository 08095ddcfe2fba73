#include "core/signals.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace hearth::signals;

TEST_SUITE("core") {
  TEST_CASE("a signal becomes a byte on the self-pipe instead of killing the process") {
    struct sigaction before {};
    ::sigaction(SIGTERM, nullptr, &before);
    {
      SignalPipe pipe;
      CHECK_FALSE(pipe.take().has_value());
      ::raise(SIGTERM);
      ::raise(SIGINT);
      pollfd p{pipe.fd(), POLLIN, 0};
      REQUIRE(::poll(&p, 1, 5000) == 1);
      CHECK(pipe.take() == SIGTERM);
      CHECK(pipe.take() == SIGINT);
      CHECK_FALSE(pipe.take().has_value());
      CHECK_THROWS_AS(SignalPipe(), hearth::Error); // one at a time
    }
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    CHECK((after.sa_handler == before.sa_handler)); // the previous disposition is back
  }

  TEST_CASE("a SignalPipe given a socket shuts it down from the handler") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    {
      SignalPipe pipe({SIGTERM}, fds[0]);
      ::raise(SIGTERM);
      char byte = 0;
      CHECK(::read(fds[0], &byte, 1) == 0); // our end reads EOF at once
      CHECK(::read(fds[1], &byte, 1) == 0); // and so does the other side
      CHECK(pipe.take() == SIGTERM);        // the signal is recorded as before
    }
    {
      // Once that pipe is gone, a new one shuts nothing down.
      int other[2];
      REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, other) == 0);
      SignalPipe pipe({SIGTERM});
      ::raise(SIGTERM);
      CHECK(pipe.take() == SIGTERM);
      CHECK(::write(other[1], "x", 1) == 1);
      char byte = 0;
      CHECK(::read(other[0], &byte, 1) == 1);
      ::close(other[0]);
      ::close(other[1]);
    }
    ::close(fds[0]);
    ::close(fds[1]);
  }

  TEST_CASE("SigpipeGuard turns a write to a dead pipe into EPIPE and leaves nothing pending") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    {
      SigpipeGuard guard;
      errno = 0;
      CHECK(::write(fds[1], "x", 1) == -1);
      CHECK(errno == EPIPE);
    }
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);
    ::close(fds[1]);
  }
}
