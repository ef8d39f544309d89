// FakeLink: a fake's pointer to another fake of the same FakeSystem (FakeLoops reads FakeFiles'
// files). Assigning a FakeSystem (`sys_ = FakeSystem(&dm_)` resets one in a test) keeps every
// fake pointing at its own siblings, not at those of the one assigned from; copying one whole
// is refused.
#ifndef THINSNAP_TESTS_FAKES_FAKE_LINK_H_
#define THINSNAP_TESTS_FAKES_FAKE_LINK_H_

namespace thinsnap::kernel {

template <typename T>
class FakeLink {
 public:
  explicit FakeLink(T* to) : to_(to) {}
  FakeLink(const FakeLink&) = delete;
  FakeLink& operator=(const FakeLink&) { return *this; }
  T* operator->() const { return to_; }

 private:
  T* to_;
};

}  // namespace thinsnap::kernel

#endif  // THINSNAP_TESTS_FAKES_FAKE_LINK_H_
