// The face detectors' accuracy on dlib's labeled example faces (docs/faces.md): recall and false positives per
// picture of dlib's HOG frontal detector (picture as is and doubled) and OpenCV 4.6's Haar/LBP cascades, at several
// thresholds. Not part of the product: OpenCV is used here only to load pictures and for the cascades.
//
//   git clone https://github.com/davisking/dlib; mkdir faces; cp dlib/examples/faces/* faces/
//   g++ -O2 Scripts/faces-accuracy.cpp $(pkg-config --cflags opencv4) -o faces-accuracy \
//       -ldlib -llapack -lblas $(pkg-config --libs opencv4)      # apt-get install libdlib-dev libopencv-dev opencv-data
//   ./faces-accuracy faces [verbose]
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv.h>
#include <opencv2/opencv.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <chrono>
struct Box { int l,t,w,h; };
struct Img { std::string file; std::vector<Box> boxes; };
static std::vector<Img> parse(const std::string& path) {
  std::ifstream in(path); std::stringstream ss; ss << in.rdbuf(); std::string s = ss.str();
  std::vector<Img> out; std::regex ri("<image file='([^']+)'"), rb("<box top='(\\d+)' left='(\\d+)' width='(\\d+)' height='(\\d+)'");
  std::istringstream lines(s); std::string line;
  while (std::getline(lines, line)) { std::smatch m;
    if (std::regex_search(line, m, ri)) out.push_back({m[1], {}});
    else if (std::regex_search(line, m, rb)) out.back().boxes.push_back({std::stoi(m[2]), std::stoi(m[1]), std::stoi(m[3]), std::stoi(m[4])}); }
  return out;
}
static double iou(Box a, Box b) { int x1=std::max(a.l,b.l), y1=std::max(a.t,b.t), x2=std::min(a.l+a.w,b.l+b.w), y2=std::min(a.t+a.h,b.t+b.h);
  double in = std::max(0,x2-x1)*(double)std::max(0,y2-y1); return in/(a.w*a.h+b.w*b.h-in); }
struct Det { Box b; double score; };
int main(int argc, char** argv) {
  std::string dir = argv[1];
  auto imgs = parse(dir+"/testing.xml"); auto tr = parse(dir+"/training.xml"); imgs.insert(imgs.end(), tr.begin(), tr.end());
  imgs.push_back({"dogs.jpg", {}});
  auto hog = dlib::get_frontal_face_detector();
  const char* cascades[] = {"/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml","/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml","/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"};
  // methods: 0 hog up0, 1 hog up1, 2.. cascades (at 2x)
  for (int method = 0; method < 5; method++) {
    std::vector<double> thresholds = method < 2 ? std::vector<double>{-0.5,-0.25,0,0.25,0.5} : std::vector<double>{2,3,4,5,6};
    for (double th : thresholds) {
      int tp=0, total=0, fp=0, fpNoPeople=0; double ms=0;
      for (auto& im : imgs) {
        cv::Mat bgr = cv::imread(dir+"/"+im.file); std::vector<Det> dets;
        auto t0 = std::chrono::steady_clock::now();
        if (method < 2) {
          cv::Mat src = bgr; double scale = 1; if (method==1) { cv::resize(bgr, src, cv::Size(), 2, 2, cv::INTER_LINEAR); scale = 2; }
          cv::Mat gray; cv::cvtColor(src, gray, cv::COLOR_BGR2GRAY);
          dlib::cv_image<unsigned char> dimg(gray);
          std::vector<dlib::rect_detection> rd; hog(dimg, rd, th);
          for (auto& r : rd) dets.push_back({{int(r.rect.left()/scale), int(r.rect.top()/scale), int(r.rect.width()/scale), int(r.rect.height()/scale)}, r.detection_confidence});
        } else {
          cv::CascadeClassifier cc(cascades[method-2]); cv::Mat gray, up; cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY); cv::resize(gray, up, cv::Size(), 2, 2); cv::equalizeHist(up, up);
          std::vector<cv::Rect> rs; cc.detectMultiScale(up, rs, 1.1, (int)th, 0, cv::Size(48,48));
          for (auto& r : rs) dets.push_back({{r.x/2, r.y/2, r.width/2, r.height/2}, 1});
        }
        ms += std::chrono::duration<double,std::milli>(std::chrono::steady_clock::now()-t0).count();
        std::vector<bool> used(im.boxes.size());
        for (auto& d : dets) { bool hit=false; for (size_t i=0;i<im.boxes.size();i++) if (!used[i] && iou(d.b, im.boxes[i]) >= 0.3) { used[i]=true; hit=true; break; } if (!hit) { fp++; if (im.boxes.empty()) fpNoPeople++; } }
        for (bool u : used) tp += u; total += im.boxes.size();
        if (argc > 2) printf("  %s: %zu labeled, %zu found\n", im.file.c_str(), im.boxes.size(), dets.size());
      }
      printf("method %d th %.2f: recall %d/%d = %.2f, false positives %d (%.2f per picture, %d on dogs.jpg), %.1f ms/picture\n", method, th, tp, total, tp/(double)total, fp, fp/(double)imgs.size(), fpNoPeople, ms/imgs.size());
    }
  }
}
