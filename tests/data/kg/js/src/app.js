import React from "react";
import { Shape, unit as one } from "./lib/shapes.js";
import * as shapes from "./lib/shapes";

const util = require("./lib/util");

class Square extends Shape {
  constructor(side) {
    super();
    this.side = side * one();
  }

  area() {
    return this.side * this.side + super.area();
  }

  render() {
    return React.createElement("div", null, util.join("a", String(this.area())));
  }
}

const make = (n) => new Square(n);

export function main() {
  const s = make(2);
  return new shapes.Shape().area() + s.area();
}
